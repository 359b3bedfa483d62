"""Money, ids, policyholders and the policy lifecycle."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_service.domain import ids
from policy_service.domain.errors import InvalidRequest, InvalidTransition
from policy_service.domain.ids import has_prefix, new_id
from policy_service.domain.lifecycle import policy_transition
from policy_service.domain.policyholder import parse_policyholder, resident_id_valid
from pricing.money import Money, MoneyError, parse_amount


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(MoneyError):
        parse_amount(1.5)
    with pytest.raises(MoneyError):
        Money(1.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money.of("1.00", "CNY") + Money.of("1.00", "USD")
    assert (Money.of("0.10", "CNY") + Money.of("0.20", "CNY")).amount == Decimal("0.30")
    assert Money.of("12.34", "CNY").to_minor() == 1234
    assert Money.from_minor(5, "CNY").to_json() == {"amount": "0.05", "currency": "CNY"}
    with pytest.raises(MoneyError):
        Money.of("0.001", "CNY").to_minor()


def test_ids_are_prefixed_and_sort_by_time() -> None:
    a, b = new_id("pol", now_ms=1_700_000_000_000), new_id("pol", now_ms=1_700_000_000_001)
    assert a < b and has_prefix(a, "pol") and not has_prefix(a, "qt")
    with pytest.raises(ValueError):
        new_id("xyz")


@settings(max_examples=500)
@given(ms=st.integers(0, 2**50 - 1), rand=st.integers(0, 2**80 - 1))
def test_an_id_is_its_time_and_random_part_in_base32_digits(ms: int, rand: int) -> None:
    def digits(number: int, length: int) -> str:  # one digit at a time, as defined
        out = ""
        for _ in range(length):
            number, rem = divmod(number, 32)
            out = "0123456789abcdefghjkmnpqrstvwxyz"[rem] + out
        return out

    assert ids._body(ms, rand) == digits(ms, 10) + digits(rand, 16)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),
        ("440524198801010011", True),
        ("110105194912310021", False),  # check digit
        ("11010519491331002X", False),  # month 13
        ("1101051949123100", False),  # too short
    ],
)
def test_resident_id_checksum(number: str, valid: bool) -> None:
    assert resident_id_valid(number) is valid


def test_policyholder_keeps_a_keyed_hash_and_last_four() -> None:
    raw = {"name": " 李四 ", "id_type": "cn_resident_id", "id_number": "11010519491231002x"}
    holder = parse_policyholder(raw, b"key-1")
    assert holder.name == "李四" and holder.id_last4 == "002X"
    assert holder.id_hash != parse_policyholder(raw, b"key-2").id_hash
    assert "11010519491231002X" not in repr(holder)
    with pytest.raises(InvalidRequest) as exc:
        parse_policyholder({**raw, "id_type": "passport", "id_number": "??"}, b"k")
    assert exc.value.param == "policyholder.id_number"


def test_transition_table() -> None:
    assert policy_transition("active", "cancel") == "cancelled"
    with pytest.raises(InvalidTransition) as exc:
        policy_transition("cancelled", "cancel")
    assert exc.value.code == "policy_cancelled"
    with pytest.raises(InvalidTransition):
        policy_transition("expired", "cancel")
