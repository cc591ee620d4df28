"""The report kit's SVG charts: well-formed XML, escaped text, finite coordinates for any data."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perennia._util.report import curves, svg

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = '</title><script>alert("x")</script>&amp; \' " <b>bold</b> ]]> --> \u2028'
NUMERIC = {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"}
VALUES = st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=30)


def _parse(chart: str) -> ET.Element:
    """Parse a chart as XML and check every coordinate in it is a finite number."""
    root = ET.fromstring(chart)
    assert root.tag == f"{NS}svg"
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox", ""))
    for element in root.iter():
        assert element.tag.removeprefix(NS) not in {"script", "foreignObject", "image", "a"}
        for name, value in element.attrib.items():
            if name in NUMERIC:
                assert math.isfinite(float(value)), (element.tag, name, value)
        for pair in (element.get("points") or "").split():
            assert all(math.isfinite(float(v)) for v in pair.split(","))
        for number in re.findall(r"-?[\d.]+(?:e[-+]?\d+)?", element.get("transform") or ""):
            assert math.isfinite(float(number))
    return root


def _texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter() if e.tag in (f"{NS}text", f"{NS}title")]


def _every_chart(text: str, xs, ys) -> list[str]:
    series = svg.Series(text, xs, ys, notes=[text] * len(xs))
    return [
        svg.line_chart(
            [series, svg.Series(text, ys, xs, dashed=True, markers=True)],
            title=text,
            x_label=text,
            y_label=text,
            diagonal=text,
            rules=[svg.Rule(0.5, text), svg.Rule(0.5, text, "x")],
            marks=[svg.Mark(0.5, 0.5, text)],
        ),
        svg.bar_chart(
            [text, "b"],
            [(text, xs[:2]), ("other", ys[:2])],
            title=text,
            y_label=text,
            x_label=text,
            rules=[svg.Rule(0.5, text)],
            flagged=[text],
        ),
        svg.heatmap([text, "b"], [xs[:2], ys[:2]], title=text),
        svg.scatter(xs, ys, title=text, x_label=text, y_label=text),
        svg.histogram(xs, title=text, x_label=text, rules=[svg.Rule(0.0, text)]),
        curves.roc_chart([series], [svg.Mark(0.2, 0.8, text)]),
        curves.pr_chart([series], 0.3),
        curves.calibration_chart([series]),
    ]


def test_hostile_titles_labels_and_names_stay_text() -> None:
    xs, ys = [0.1, 0.4, 0.9], [0.2, 0.5, 0.7]
    for chart in _every_chart(HOSTILE, xs, ys):
        root = _parse(chart)
        assert "<script" not in chart and "<b>" not in chart
        shown = _texts(root)
        assert any(HOSTILE in t for t in shown), shown
    line = _parse(_every_chart(HOSTILE, xs, ys)[0])
    assert line.get("aria-label") == HOSTILE and line.find(f"{NS}title").text == HOSTILE


@settings(max_examples=60, deadline=None)
@given(VALUES, VALUES)
def test_any_numbers_give_well_formed_charts_with_finite_coordinates(xs, ys) -> None:
    xs, ys = xs + [0.0, 1.0], ys + [1.0, 0.0]
    for chart in _every_chart("t", xs, ys):
        _parse(chart)


def test_edge_data_constant_huge_tiny_negative_and_missing() -> None:
    cases = [
        [5.0] * 10,
        [1e300] * 4,
        [-1.7e308, 1.7e308, 0.0],
        [1e-320, 2e-320],
        [-3.0, -2.5, -1e-9],
        [1.0, 1.0 + 2.2e-16],
        [float("nan"), float("inf"), None, "x"],
        [],
    ]
    for values in cases:
        for chart in (
            svg.histogram(values, title="h", x_label="v"),
            svg.scatter(values, values, title="s", x_label="x", y_label="y"),
            svg.line_chart([svg.Series("s", values, values)], title="l", x_label="x", y_label="y"),
            svg.bar_chart(["a"] * len(values), [("v", values)], title="b", y_label="y"),
        ):
            _parse(chart)


def test_histogram_counts_every_finite_value_once() -> None:
    values = [0.0, 0.1, 0.1, 0.5, 1.0, float("nan"), None]
    root = _parse(svg.histogram(values, title="h", x_label="v", bins=4))
    tips = [e.find(f"{NS}title").text for e in root.iter(f"{NS}rect")]
    assert sum(int(t.rsplit(": ", 1)[1].split()[0]) for t in tips) == 5


def test_scatter_caps_points_and_ticks_are_round() -> None:
    rng = np.random.default_rng(0)
    chart = svg.scatter(
        rng.normal(size=5000), rng.normal(size=5000), title="t", x_label="x", y_label="y"
    )
    assert chart.count('class="pt"') <= svg.MAX_POINTS
    assert svg.nice_ticks(0.03, 0.97) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(-13.0, 48.0) == [-20.0, 0.0, 20.0, 40.0, 60.0]
