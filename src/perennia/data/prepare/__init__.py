"""Data preparation as pure functions on frames: split, point-in-time join, diff.

Each takes frames (pandas, polars or Arrow) and returns frames plus plain JSON-able dicts that
describe the rule applied, so a caller can record them with a dataset version; none of them
touches the store. Heavy libraries load inside the functions, so importing this package is cheap.
"""

from perennia.data.prepare.diff import FrameDiff, diff_frames
from perennia.data.prepare.point_in_time import point_in_time_join
from perennia.data.prepare.shift import ColumnShift
from perennia.data.prepare.split import check_no_leak, split_frame

__all__ = [
    "ColumnShift",
    "FrameDiff",
    "check_no_leak",
    "diff_frames",
    "point_in_time_join",
    "split_frame",
]
