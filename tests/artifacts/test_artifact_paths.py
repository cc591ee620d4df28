"""Artifact path rules: every traversal spelling is refused; a path that passes stays inside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perennia.artifacts.paths import join_artifact_path, validate_artifact_path
from perennia.errors import InvalidArtifactPath, InvalidInput, PerenniaError

TRAVERSALS = [
    "..",
    "../secret",
    "a/../../etc/passwd",
    "a/..",
    "/etc/passwd",
    "//server/share",
    "C:/Windows/win.ini",
    "c:evil",
    "~/.ssh/id_rsa",
    "a\\..\\b",
    "..\\windows",
    "a\x00b",
    "%2e%2e/secret",
    "%2E%2E%2Fsecret",
    "a/%2f/b",
    "%252e%252e/secret",
    "a/./b",
    "a//b",
    "a/ b",
    "model.pkl?x=1",
    "model.pkl#frag",
    "line\nbreak",
    "x" * 5000,
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_and_ambiguous_paths_are_refused_with_a_clear_error(path: str) -> None:
    with pytest.raises(InvalidArtifactPath) as caught:
        validate_artifact_path(path)
    assert isinstance(caught.value, InvalidInput) and isinstance(caught.value, PerenniaError)
    assert "artifact path" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("bad", [None, 3, b"bytes", ["a"]])
def test_non_string_paths_are_refused(bad) -> None:
    with pytest.raises(InvalidArtifactPath, match="must be a string"):
        validate_artifact_path(bad)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("model.skops", "model.skops"),
        ("plots/roc.png", "plots/roc.png"),
        ("plots/", "plots"),
        ("a/b/c/d.txt", "a/b/c/d.txt"),
        ("dots..in.name", "dots..in.name"),
        ("ünïcode/файл.txt", "ünïcode/файл.txt"),
    ],
)
def test_plain_relative_paths_are_accepted_in_canonical_form(path: str, canonical: str) -> None:
    assert validate_artifact_path(path) == canonical


def test_empty_path_is_refused_unless_the_root_is_meant() -> None:
    with pytest.raises(InvalidArtifactPath):
        validate_artifact_path("")
    assert validate_artifact_path("", allow_empty=True) == ""


def test_join_validates_both_parts() -> None:
    assert join_artifact_path(None, "a.txt") == "a.txt"
    assert join_artifact_path("plots", "roc.png") == "plots/roc.png"
    with pytest.raises(InvalidArtifactPath):
        join_artifact_path("../up", "a.txt")
    with pytest.raises(InvalidArtifactPath):
        join_artifact_path("plots", "..")


segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=12
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(
        st.one_of(segment, st.sampled_from(["..", ".", "", "%2e%2e", "\\", "/"])),
        min_size=1,
        max_size=5,
    )
)
def test_any_accepted_path_resolves_inside_the_root(parts: list[str], tmp_path: Path) -> None:
    raw = "/".join(parts)
    try:
        canonical = validate_artifact_path(raw)
    except InvalidArtifactPath:
        return
    root = os.path.realpath(tmp_path / "root")
    resolved = os.path.realpath(os.path.join(root, canonical))
    assert resolved.startswith(root + os.sep)
    assert ".." not in canonical.split("/")
    assert validate_artifact_path(canonical) == canonical  # canonical form is a fixed point
