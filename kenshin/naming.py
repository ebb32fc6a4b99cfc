"""Names of the archive and of its member files.

Archive (= root folder) name::

    <提出元機関番号>_<提出先機関番号>_<提出年月日YYYYMMDD><同日分割送信回数>_<実施区分>

Member name (DATA / CLAIMS)::

    <h|c|g|p><機関番号10><作成日YYYYMMDD><同日回数1><実施区分1><連番6>.xml

h/c (and g/p) files pair up by everything after the prefix letter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

INDEX_FILE = "ix08_V08.xml"
SUMMARY_FILE = "su08_V08.xml"
DATA_DIR = "DATA"
CLAIMS_DIR = "CLAIMS"
XSD_DIR = "XSD"

PREFIX_CHECKUP = "h"
PREFIX_CHECKUP_CLAIM = "c"
PREFIX_GUIDANCE = "g"
PREFIX_GUIDANCE_CLAIM = "p"
CLAIM_PREFIX_FOR = {PREFIX_CHECKUP: PREFIX_CHECKUP_CLAIM, PREFIX_GUIDANCE: PREFIX_GUIDANCE_CLAIM}

_ARCHIVE_RE = re.compile(r"([0-9]{8}|[0-9]{10})_([0-9]{8}|[0-9]{10})_([0-9]{8})([0-9])_([0-9])")
_MEMBER_RE = re.compile(r"([hcgp])([0-9]{10})([0-9]{8})([0-9])([0-9])([0-9]{6})\.xml")


def parse_yyyymmdd(text: str | None) -> date | None:
    """A YYYYMMDD date as the format writes it; None when it is not one."""
    if text is None or len(text) != 8 or not (text.isascii() and text.isdigit()):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def yyyymmdd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


@dataclass(frozen=True)
class ArchiveName:
    sender: str
    receiver: str
    submitted_on: date
    same_day_count: int
    service_event_type: str

    @property
    def stem(self) -> str:
        return (
            f"{self.sender}_{self.receiver}_{self.submitted_on:%Y%m%d}{self.same_day_count}_{self.service_event_type}"
        )

    @property
    def filename(self) -> str:
        return f"{self.stem}.zip"

    @classmethod
    def parse(cls, name: str) -> ArchiveName | None:
        """Parse a root-folder or ZIP name (the .zip suffix is optional); None if it does not fit."""
        if name.lower().endswith(".zip"):
            name = name[:-4]
        match = _ARCHIVE_RE.fullmatch(name)
        if match is None:
            return None
        submitted_on = parse_yyyymmdd(match[3])
        if submitted_on is None:
            return None
        return cls(match[1], match[2], submitted_on, int(match[4]), match[5])


@dataclass(frozen=True)
class MemberName:
    prefix: str
    institution: str
    created_on: date
    same_day_count: int
    service_event_type: str
    serial: int

    @property
    def filename(self) -> str:
        return (
            f"{self.prefix}{self.institution}{self.created_on:%Y%m%d}{self.same_day_count}"
            f"{self.service_event_type}{self.serial:06d}.xml"
        )

    @property
    def path(self) -> str:
        folder = DATA_DIR if self.prefix in (PREFIX_CHECKUP, PREFIX_GUIDANCE) else CLAIMS_DIR
        return f"{folder}/{self.filename}"

    def with_prefix(self, prefix: str) -> MemberName:
        return MemberName(
            prefix,
            self.institution,
            self.created_on,
            self.same_day_count,
            self.service_event_type,
            self.serial,
        )

    @classmethod
    def parse(cls, filename: str) -> MemberName | None:
        match = _MEMBER_RE.fullmatch(filename)
        if match is None:
            return None
        created_on = parse_yyyymmdd(match[3])
        if created_on is None:
            return None
        return cls(match[1], match[2], created_on, int(match[4]), match[5], int(match[6]))
