"""Settings read from the environment: the parsing of the values that are not plain integers or flags."""

from __future__ import annotations

import pytest

from app.settings import percent_to_basis_points


@pytest.mark.parametrize(("text", "points"), [("5", 500), ("2.5", 250), ("2,5", 250), (" 0 ", 0), ("100", 10_000),
                                              ("12.345", 1_235)])
def test_percentages_from_the_environment(text: str, points: int) -> None:
    assert percent_to_basis_points(text) == points


@pytest.mark.parametrize("text", ["", "five", "-1", "101", "nan", "inf"])
def test_bad_percentages_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        percent_to_basis_points(text)
