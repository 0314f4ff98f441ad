import pytest

from app.domain.proposals import amount_for


def test_a_fixed_rule_gives_everyone_the_same_amount() -> None:
    assert amount_for("fixed", fixed_cents=15_000, share_basis_points=0, claimed_cents=1) == 15_000


@pytest.mark.parametrize(("share", "claimed", "expected"), [
    (5_000, 12_345, 6_173),  # 61.725 € rounds half up to 61.73 €
    (10_000, 12_345, 12_345),
    (12_000, 10_000, 10_000),  # never more than claimed
    (0, 10_000, 0),
    (3_333, 1, 0),
])
def test_a_share_rule_follows_each_claimed_amount(share: int, claimed: int, expected: int) -> None:
    assert amount_for("share", fixed_cents=0, share_basis_points=share, claimed_cents=claimed) == expected


def test_an_item_has_no_amount_and_an_unknown_rule_is_refused() -> None:
    assert amount_for("item", fixed_cents=500, share_basis_points=500, claimed_cents=500) == 0
    with pytest.raises(ValueError):
        amount_for("bonus", fixed_cents=1, share_basis_points=1, claimed_cents=1)
