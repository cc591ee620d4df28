"""Artifact path validation: every escape spelling is refused by name; accepted paths stay inside.

The oracle for containment is the operating system itself: `os.path.realpath` of the accepted
path joined under a real root folder must still lie inside that folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from perennia.errors import InvalidArtifactPath, InvalidInput, PerenniaError
from perennia.store.artifact_paths import join_artifact_path, validate_artifact_path
from perennia.store.limits import ARTIFACT_PATH_LENGTH

ESCAPES = {
    "parent": "..",
    "parent first": "../secret.txt",
    "parent in the middle": "plots/../../etc/passwd",
    "parent last": "plots/..",
    "parent with trailing slash": "plots/../",
    "absolute": "/etc/passwd",
    "unc share": "//server/share/file",
    "drive with slash": "C:/Windows/win.ini",
    "drive relative": "c:secret",
    "lower drive with backslash": "d:\\x",
    "home": "~/.ssh/id_rsa",
    "backslash traversal": "..\\..\\boot.ini",
    "backslash inside": "plots\\roc.png",
    "nul": "model\x00.pkl",
    "nul then parent": "ok\x00/../x",
    "encoded dots": "%2e%2e/secret",
    "encoded upper": "%2E%2E/secret",
    "encoded slash": "plots%2F..%2Fsecret",
    "encoded backslash": "..%5csecret",
    "double encoded dots": "%252e%252e/secret",
    "double encoded slash": "a%252Fb",
    "encoded nul": "a%00b",
    "current dir": "./model.pkl",
    "current dir inside": "plots/./roc.png",
    "empty segment": "plots//roc.png",
    "only slashes": "///",
    "leading space segment": " plots/roc.png",
    "trailing space segment": "plots /roc.png",
    "query": "model.pkl?versionId=1",
    "fragment": "model.pkl#x",
    "newline": "a\nb",
    "tab": "a\tb",
    "delete char": "a\x7fb",
    "escape char": "\x1b[31mred",
}


@pytest.mark.parametrize("path", list(ESCAPES.values()), ids=list(ESCAPES))
def test_escape_spellings_are_refused_with_an_error_that_names_the_path(path: str) -> None:
    with pytest.raises(InvalidArtifactPath) as caught:
        validate_artifact_path(path)
    error = caught.value
    assert isinstance(error, InvalidInput) and isinstance(error, PerenniaError)
    assert repr(path) in str(error)


@pytest.mark.parametrize("path", list(ESCAPES.values()), ids=list(ESCAPES))
def test_escape_spellings_are_refused_in_either_half_of_a_join(path: str) -> None:
    with pytest.raises(InvalidArtifactPath):
        join_artifact_path(path, "model.pkl")
    with pytest.raises(InvalidArtifactPath):
        join_artifact_path("models", path)


def test_a_path_over_the_length_limit_is_refused_and_its_start_is_named() -> None:
    longest = "/".join(["d" * 99] * (ARTIFACT_PATH_LENGTH // 100)).ljust(ARTIFACT_PATH_LENGTH, "x")
    assert len(longest) == ARTIFACT_PATH_LENGTH
    assert validate_artifact_path(longest) == longest

    too_long = longest + "y"
    with pytest.raises(InvalidArtifactPath) as caught:
        validate_artifact_path(too_long)
    message = str(caught.value)
    assert too_long[:40] in message and str(len(too_long)) in message
    assert len(message) < 300  # a megabyte path must not become a megabyte error message


def test_a_megabyte_path_is_refused_quickly_with_a_short_message() -> None:
    with pytest.raises(InvalidArtifactPath) as caught:
        validate_artifact_path("a/" * 500_000)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("bad", [None, 7, 1.5, b"model.pkl", Path("model.pkl"), ["a"], {"a": 1}])
def test_a_path_that_is_not_a_string_is_refused_by_its_type(bad: object) -> None:
    with pytest.raises(InvalidArtifactPath, match=type(bad).__name__):
        validate_artifact_path(bad)


@pytest.mark.parametrize("empty", ["", "."])
def test_an_empty_path_means_the_root_only_where_the_root_is_allowed(empty: str) -> None:
    with pytest.raises(InvalidArtifactPath, match="empty"):
        validate_artifact_path(empty)
    assert validate_artifact_path(empty, allow_empty=True) == ""


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("model.pkl", "model.pkl"),
        ("plots/roc.png", "plots/roc.png"),
        ("plots/", "plots"),
        ("plots///", "plots"),
        ("a/b/c/d/e/f.txt", "a/b/c/d/e/f.txt"),
        ("..hidden", "..hidden"),
        ("name..ext", "name..ext"),
        ("...", "..."),
        ("a/.b/c", "a/.b/c"),
        ("100%", "100%"),
        ("50%done/x", "50%done/x"),
        ("with space/in name.txt", "with space/in name.txt"),
        ("data:v1/x", "data:v1/x"),
        ("ünïcode/файл/数据.csv", "ünïcode/файл/数据.csv"),
    ],
)
def test_plain_nested_paths_are_accepted_in_canonical_form(path: str, canonical: str) -> None:
    assert validate_artifact_path(path) == canonical
    assert validate_artifact_path(canonical) == canonical


@pytest.mark.parametrize(
    ("directory", "name", "joined"),
    [
        (None, "model.pkl", "model.pkl"),
        ("", "model.pkl", "model.pkl"),
        (".", "model.pkl", "model.pkl"),
        ("plots", "roc.png", "plots/roc.png"),
        ("plots/", "roc.png", "plots/roc.png"),
        ("a/b", "c/d.txt", "a/b/c/d.txt"),
    ],
)
def test_join_puts_the_name_under_the_directory(directory, name: str, joined: str) -> None:
    assert join_artifact_path(directory, name) == joined


def test_join_refuses_an_absolute_name_even_under_a_directory() -> None:
    with pytest.raises(InvalidArtifactPath, match="'/etc/passwd' must be relative"):
        join_artifact_path("plots", "/etc/passwd")
    with pytest.raises(InvalidArtifactPath):
        join_artifact_path("plots", "///")  # must not collapse into "plots" itself


# Segments mix ordinary names with the pieces attacks are built from.
_NASTY = ["..", ".", "", "~", "%2e%2e", "%252e", "\\", "..\\", "C:", "\x00", " ", "/", "?", "#"]
_segment = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10),
    st.sampled_from(_NASTY),
    st.text(alphabet="./\\%2eEcC:~ ", max_size=6),
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(_segment, min_size=1, max_size=6))
@example(parts=["a", "..", "..", "b"])
@example(parts=["", "etc", "passwd"])
@example(parts=["plots", ""])
def test_whatever_the_input_an_accepted_path_stays_inside_the_root(
    parts: list[str], tmp_path: Path
) -> None:
    raw = "/".join(parts)
    try:
        canonical = validate_artifact_path(raw)
    except InvalidArtifactPath as error:
        assert repr(raw)[:40] in str(error) or len(raw) > ARTIFACT_PATH_LENGTH
        return
    # A fresh root per example: tmp_path is shared by every example of one test run.
    root = os.path.realpath(tempfile.mkdtemp(dir=tmp_path))
    resolved = os.path.realpath(os.path.join(root, canonical))
    assert os.path.commonpath([root, resolved]) == root and resolved != root
    # The canonical form is a fixed point and names the same place as the raw input.
    assert validate_artifact_path(canonical) == canonical
    assert os.path.realpath(os.path.join(root, raw)) == resolved
    # The OS can actually create it there: the name is a real, writable path under the root.
    target = Path(resolved)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"x")
    assert target.read_bytes() == b"x"
