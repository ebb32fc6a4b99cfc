"""Password rules of the guideline (≥13 characters mixing letters, digits and symbols; nothing
guessable from the person; no common words; none of the last 12 passwords)."""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import PasswordHistory

# Words that make a password guessable in this domain, beyond Django's list of common passwords.
COMMON_WORDS = (
    "password", "passw0rd", "kenshin", "tokutei", "hoken", "hokensha", "daikou", "daiko", "iryou", "iryo",
    "kikan", "portal", "admin", "welcome", "qwerty", "asdfgh", "zxcvbn", "123456", "abcdef", "letmein",
    "himitsu", "tokyo", "nippon", "japan", "kanri", "sakura", "dragon", "monkey", "master", "login",
)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s\-_./・]", "", text)


class CharacterClassValidator:
    def validate(self, password: str, user: Any = None) -> None:
        has_letter = any(c in string.ascii_letters for c in password)
        has_digit = any(c in string.digits for c in password)
        has_symbol = any(c in string.punctuation for c in password)
        if not (has_letter and has_digit and has_symbol):
            raise ValidationError(
                _("パスワードには英字・数字・記号をそれぞれ1文字以上含めてください。"), code="password_classes"
            )

    def get_help_text(self) -> str:
        return _("英字・数字・記号をそれぞれ1文字以上含めてください。")


class PersonalDataValidator:
    """Reject passwords that contain the user name, the person's name or their birth date."""

    def validate(self, password: str, user: Any = None) -> None:
        if user is None:
            return
        candidate = _normalize(password)
        fragments = [user.get_username(), getattr(user, "first_name", ""), getattr(user, "last_name", "")]
        fragments += re.split(r"[\s　]+", getattr(user, "full_name_kana", "") or "")
        email = getattr(user, "email", "") or ""
        fragments.append(email.split("@")[0])
        for fragment in fragments:
            fragment = _normalize(fragment or "")
            if len(fragment) >= 3 and fragment in candidate:
                raise ValidationError(
                    _("パスワードに利用者名・氏名を含めることはできません。"), code="password_personal_name"
                )
        birth_date = getattr(user, "birth_date", None)
        if birth_date:
            forms = {
                birth_date.strftime("%Y%m%d"),
                birth_date.strftime("%y%m%d"),
                birth_date.strftime("%m%d"),
                birth_date.strftime("%d%m"),
                birth_date.strftime("%Y"),
            }
            digits = re.sub(r"\D", "", password)
            if any(form in digits or form in candidate for form in forms):
                raise ValidationError(
                    _("パスワードに生年月日を含めることはできません。"), code="password_birth_date"
                )

    def get_help_text(self) -> str:
        return _("利用者名・氏名・生年月日を含めないでください。")


class CommonWordValidator:
    """Reject passwords built around a common or domain word (after stripping digits and symbols)."""

    def validate(self, password: str, user: Any = None) -> None:
        letters = re.sub(r"[^a-z]", "", _normalize(password))
        leet = _normalize(password).translate(str.maketrans("013457@$", "oleastas"))
        for word in COMMON_WORDS:
            if word in letters or word in leet:
                raise ValidationError(
                    _("推測されやすい単語を含むパスワードは使用できません。"), code="password_common_word"
                )

    def get_help_text(self) -> str:
        return _("辞書にある単語や推測されやすい語を避けてください。")


class PasswordHistoryValidator:
    def __init__(self, count: int = 12) -> None:
        self.count = count

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return

        earlier = list(
            PasswordHistory.objects.filter(user_id=user.pk).values_list("encoded", flat=True)[: self.count]
        )
        if any(check_password(password, encoded) for encoded in earlier):
            raise ValidationError(
                ngettext(
                    "直近%(count)d回に使用したパスワードは再利用できません。",
                    "直近%(count)d回に使用したパスワードは再利用できません。",
                    self.count,
                )
                % {"count": self.count},
                code="password_reused",
            )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None and user.pk is not None:
            PasswordHistory.objects.create(user=user, encoded=user.password)
            stale = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[self.count :]
            PasswordHistory.objects.filter(pk__in=list(stale)).delete()

    def get_help_text(self) -> str:
        return _("直近%(count)d回のパスワードは再利用できません。") % {"count": self.count}
