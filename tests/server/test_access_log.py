"""Common Log Format lines cannot be forged by what a client puts in its request."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from perennia.server.access_log import common_log_line


@given(path=st.text(min_size=1, max_size=60), query=st.binary(max_size=40))
def test_any_path_or_query_stays_on_one_line_inside_its_quotes(path: str, query: bytes) -> None:
    scope = {"method": "GET", "path": "/" + path, "query_string": query, "client": ("10.0.0.7", 1)}
    line = common_log_line(scope, 404, 0, when=0)
    assert "\n" not in line and "\r" not in line
    assert line.startswith('10.0.0.7 - - [01/Jan/1970:00:00:00 +0000] "GET /')
    assert line.count('"') == 2 and line.endswith('" 404 -')
