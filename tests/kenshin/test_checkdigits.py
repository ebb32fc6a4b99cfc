"""Check digits (SPEC §7): the worked examples and the numbers known to fail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kenshin.checkdigits import (
    is_valid_agency_number,
    is_valid_institution_number,
    is_valid_insurer_number,
    luhn_digit,
    normalize_insurer_number,
)


@pytest.mark.parametrize("number", ["33120015", "01130012", "01040013", "06132013", "280081", "00280081"])
def test_insurer_numbers_from_the_spec_are_valid(number: str) -> None:
    assert is_valid_insurer_number(number)


def test_worked_example_33120015_has_check_digit_5() -> None:
    assert luhn_digit("3312001") == 5


@pytest.mark.parametrize("number", ["2813303589", "2813300114", "2813301351", "2813302086", "6631111116", "5521111111"])
def test_institution_numbers_from_the_spec_are_valid(number: str) -> None:
    assert is_valid_institution_number(number)


def test_worked_example_2813300114_has_check_digit_4() -> None:
    assert luhn_digit("281330011") == 4


@pytest.mark.parametrize("number", ["1311234567", "1310438796"])
def test_fictional_institution_numbers_fail(number: str) -> None:
    assert not is_valid_institution_number(number)


def test_agency_number_91399055_is_valid() -> None:
    assert is_valid_agency_number("91399055")
    assert luhn_digit("9139905") == 5


def test_six_digit_national_health_insurance_numbers_are_padded() -> None:
    assert normalize_insurer_number(" 280081 ") == "00280081"
    assert normalize_insurer_number("01130012") == "01130012"


@pytest.mark.parametrize("number", ["0113001", "011300123", "0113001a", "０１１３００１２", "01130¹12", ""])
def test_malformed_insurer_numbers_are_invalid_without_raising(number: str) -> None:
    assert not is_valid_insurer_number(number)


def test_luhn_digit_refuses_non_digits() -> None:
    with pytest.raises(ValueError, match="not a string of digits"):
        luhn_digit("12a")


@given(st.text(alphabet="0123456789", min_size=7, max_size=9))
def test_appending_the_check_digit_always_validates(body: str) -> None:
    number = body + str(luhn_digit(body))
    if len(number) == 8:
        assert is_valid_insurer_number(number)
        assert is_valid_agency_number(number)
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not is_valid_insurer_number(wrong)
    if len(number) == 10:
        assert is_valid_institution_number(number)
