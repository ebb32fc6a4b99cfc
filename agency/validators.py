"""Validators for the numbers and texts that identify parties.

Check digits are validated wherever a number enters: model fields carry these validators, so model
forms, serializers built from the models and imports that call ``full_clean()`` all reject a bad
number with the same message.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from kenshin import checkdigits

HALF_WIDTH_KANA_RE = re.compile(r"^[0-9A-Zｦ-ﾟ ()\.\-/,｢｣¥]+$")


def validate_insurer_number(value: str) -> None:
    number = checkdigits.normalize_insurer_number(value)
    if len(number) != 8 or not number.isdigit():
        raise ValidationError(
            _("保険者番号は8桁の数字で入力してください（国保の6桁番号は先頭に00を付けます）。"),
            code="insurer_number_format",
        )
    if not checkdigits.is_valid_insurer_number(number):
        raise ValidationError(
            _("保険者番号 %(number)s の検証番号（末尾1桁）が正しくありません。"),
            code="insurer_number_check_digit",
            params={"number": number},
        )


def validate_institution_number(value: str) -> None:
    if len(value) != 10 or not value.isdigit():
        raise ValidationError(_("機関番号は10桁の数字で入力してください。"), code="institution_number_format")
    if not checkdigits.is_valid_institution_number(value):
        raise ValidationError(
            _("機関番号 %(number)s の検証番号（末尾1桁）が正しくありません。"),
            code="institution_number_check_digit",
            params={"number": value},
        )


def validate_agency_number(value: str) -> None:
    if len(value) != 8 or not value.isdigit():
        raise ValidationError(_("代行機関コードは8桁の数字で入力してください。"), code="agency_number_format")
    if not checkdigits.is_valid_agency_number(value):
        raise ValidationError(
            _("代行機関コード %(number)s の検証番号（末尾1桁）が正しくありません。"),
            code="agency_number_check_digit",
            params={"number": value},
        )


def validate_invoice_registration_number(value: str) -> None:
    """適格請求書発行事業者登録番号: T + 13 digits (法人番号, whose first digit is a mod-9 check digit)."""
    if not re.fullmatch(r"T\d{13}", value):
        raise ValidationError(
            _("登録番号は T に続く13桁の数字で入力してください。"), code="invoice_registration_format"
        )
    digits = value[1:]
    body = digits[1:]
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(body)))
    if 9 - total % 9 != int(digits[0]):
        raise ValidationError(
            _("登録番号 %(number)s の検査用数字（先頭1桁）が正しくありません。"),
            code="invoice_registration_check_digit",
            params={"number": value},
        )


def validate_half_width_kana(value: str) -> None:
    if not HALF_WIDTH_KANA_RE.fullmatch(value):
        raise ValidationError(
            _("半角カナ・英大文字・数字・一部の記号で入力してください。"), code="half_width_kana"
        )


bank_code_validator = RegexValidator(r"^\d{4}$", _("金融機関コードは4桁の数字です。"), code="bank_code")
branch_code_validator = RegexValidator(r"^\d{3}$", _("支店コードは3桁の数字です。"), code="branch_code")
account_number_validator = RegexValidator(r"^\d{7}$", _("口座番号は7桁の数字です。"), code="account_number")
item_code_validator = RegexValidator(r"^[0-9A-Z]{17}$", _("項目コードは17桁の英数字です。"), code="item_code")
