"""Version numbers from text: ASCII digits only, so a superscript is refused, never a crash."""

from __future__ import annotations

import pytest

from perennia.errors import InvalidInput
from perennia.store.registry_checks import check_version


@pytest.mark.parametrize("text", ["²", "١", "1²", "", "0", "-1", str(2**31)])
def test_a_version_that_is_not_ascii_digits_in_range_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="version must be a positive integer"):
        check_version(text)


def test_ascii_digits_and_ints_are_read() -> None:
    assert (check_version("7"), check_version(7), check_version(str(2**31 - 1))) == (
        7,
        7,
        2**31 - 1,
    )
