"""Check digits of the numbers that identify parties in the standard format.

保険者番号, 特定健診機関番号 and 代行機関番号 all end in a Luhn (mod 10) check digit computed over the
preceding digits, weights 2, 1, 2, 1 … from the rightmost body digit.
"""

from __future__ import annotations


def _ascii_digits(text: str) -> bool:
    """Only 0-9 (``str.isdigit`` also accepts superscripts and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def luhn_digit(body: str) -> int:
    """Return the Luhn check digit for a string of decimal digits."""
    if not _ascii_digits(body):
        raise ValueError(f"not a string of digits: {body!r}")
    total = 0
    for position, char in enumerate(reversed(body)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _valid(number: str, length: int) -> bool:
    return len(number) == length and _ascii_digits(number) and luhn_digit(number[:-1]) == int(number[-1])


def normalize_insurer_number(number: str) -> str:
    """Left-pad a 6-digit 国保 保険者番号 to the 8 digits used in the exchange format."""
    number = number.strip()
    if len(number) == 6 and _ascii_digits(number):
        return "00" + number
    return number


def is_valid_insurer_number(number: str) -> bool:
    """保険者番号: 8 digits (6-digit 国保 numbers are left-padded with 00), Luhn over the first 7."""
    return _valid(normalize_insurer_number(number), 8)


def is_valid_institution_number(number: str) -> bool:
    """特定健診機関番号 / 医療機関コード: 10 digits, Luhn over the first 9."""
    return _valid(number, 10)


def is_valid_agency_number(number: str) -> bool:
    """代行機関番号: 8 digits, Luhn over the first 7."""
    return _valid(number, 8)
