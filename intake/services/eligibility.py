"""受診券 data: insurers upload the tickets they issued; intake checks records against them.

Upload (``eligibility_upload``): a CSV with a header row, UTF-8 (BOM allowed) or Shift_JIS. Every
row is validated and every problem reported with its line number; the file is imported whole or
not at all. A ticket number already known for the insurer is updated (the latest upload wins).

Columns (header names; the copay columns may be left out, meaning 負担なし; 券面種別 may be left out,
meaning 1 受診券)::

    受診券整理番号, 有効期限, 被保険者証記号, 被保険者証番号, 被保険者証枝番, 生年月日, 性別,
    基本負担区分, 基本負担額, 基本負担率, 基本上限額,
    詳細負担区分, 詳細負担額, 詳細負担率, 詳細上限額,
    追加負担区分, 追加負担額, 追加負担率, 追加上限額, 券面種別

A row of 券面種別 2 is a 利用券 (特定保健指導): its 整理番号 goes in the same column and its 窓口負担 in the 基本
columns (with the 保険者負担上限額); the guidance rules check guidance records against it.

Dates are ``YYYYMMDD`` or ``YYYY-MM-DD``; 性別 1 (男) / 2 (女); 負担区分 is 別表6 (1 負担なし, 2 定額,
3 定率, 4 保険者負担上限額); 負担額 and 上限額 are yen; 負担率 is percent × 1000 (30 % = 30000), as in
contracts and in the claim's six-digit rate.

The rules that check records against the tickets are ``intake.checks.tickets``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import CopayCode, Insurer, User
from audit.models import Outcome
from audit.services import audit_record
from core.exceptions import ApplicationError
from intake.models import EligibilityTicket, EligibilityUpload
from kenshin.codes import RATE_SCALE

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_ROWS = 300_000
MAX_REPORTED_ERRORS = 200
TICKET_RE = re.compile(r"[0-9]{11}")
BRANCH_RE = re.compile(r"[0-9]{2}")
COMPONENTS = (("basic", "基本"), ("detail", "詳細"), ("other", "追加"))
IDENTITY_COLUMNS = {
    "ticket_number": "受診券整理番号",
    "expires_on": "有効期限",
    "card_symbol": "被保険者証記号",
    "card_number": "被保険者証番号",
    "card_branch": "被保険者証枝番",
    "birth_date": "生年月日",
    "sex": "性別",
}
COPAY_PARTS = (("code", "負担区分"), ("amount", "負担額"), ("rate", "負担率"), ("cap", "上限額"))
COPAY_COLUMNS = {
    f"{component}_copay_{part}": f"{label}{suffix}" for component, label in COMPONENTS for part, suffix in COPAY_PARTS
}
KIND_COLUMN = {"kind": "券面種別"}
COLUMNS = {**IDENTITY_COLUMNS, **COPAY_COLUMNS, **KIND_COLUMN}
TEMPLATE_HEADER = ",".join(COLUMNS.values())


# --- upload ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str


class EligibilityFileInvalid(ApplicationError):
    """The file was not imported; ``errors`` lists every problem (line 1 is the header)."""

    code = "eligibility_invalid"

    def __init__(self, errors: list[RowError], total: int | None = None) -> None:
        super().__init__(_("受診券データに%(count)d件の誤りがあるため登録しませんでした。") % {"count": total if total is not None else len(errors)})
        self.errors = errors[:MAX_REPORTED_ERRORS]
        self.total = total if total is not None else len(errors)


@dataclass(frozen=True)
class UploadResult:
    upload: EligibilityUpload
    created: int
    updated: int


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise EligibilityFileInvalid([RowError(1, "", _("文字コードを判別できません。UTF-8 または Shift_JIS で保存してください。"))])


def _date(text: str) -> dt.date | None:
    digits = text.replace("-", "").replace("/", "")
    if not re.fullmatch(r"[0-9]{8}", digits):
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _integer(text: str) -> int | None:
    text = text.replace(",", "")
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


class _Row:
    """One CSV line turned into ticket fields, collecting errors instead of raising."""

    def __init__(self, line: int, values: dict[str, str], errors: list[RowError]) -> None:
        self.line = line
        self.values = values
        self.errors = errors
        self.fields: dict[str, Any] = {}

    def error(self, key: str, message: str) -> None:
        self.errors.append(RowError(self.line, COLUMNS.get(key, key), message))

    def parse(self) -> dict[str, Any] | None:
        before = len(self.errors)
        v = self.values
        ticket = v.get("ticket_number", "")
        if not TICKET_RE.fullmatch(ticket):
            self.error("ticket_number", _("11桁の数字で入力してください。"))
        self.fields["ticket_number"] = ticket
        for key in ("expires_on", "birth_date"):
            day = _date(v.get(key, ""))
            if day is None:
                self.error(key, _("日付（YYYYMMDD）を入力してください。"))
            self.fields[key] = day
        symbol, number, branch = v.get("card_symbol", ""), v.get("card_number", ""), v.get("card_branch", "")
        if len(symbol) > 20:
            self.error("card_symbol", _("20文字以内で入力してください。"))
        if not number or len(number) > 20:
            self.error("card_number", _("1〜20文字で入力してください。"))
        if branch and not BRANCH_RE.fullmatch(branch):
            self.error("card_branch", _("2桁の数字で入力してください。"))
        self.fields.update(card_symbol=symbol, card_number=number, card_branch=branch)
        sex = v.get("sex", "")
        if sex not in ("1", "2"):
            self.error("sex", _("1（男）または2（女）を入力してください。"))
        self.fields["sex"] = sex
        if self.fields["birth_date"] and self.fields["expires_on"] and self.fields["birth_date"] > self.fields["expires_on"]:
            self.error("birth_date", _("生年月日が有効期限より後です。"))
        for component, _label in COMPONENTS:
            self._copay(component)
        kind = v.get("kind", "") or EligibilityTicket.Kind.CHECKUP
        if kind not in EligibilityTicket.Kind.values:
            self.error("kind", _("1（受診券）または2（利用券）を入力してください。"))
        self.fields["kind"] = kind
        return self.fields if len(self.errors) == before else None

    def _copay(self, component: str) -> None:
        prefix = f"{component}_copay_"
        code_text = self.values.get(prefix + "code", "") or "1"
        code = _integer(code_text)
        if code not in CopayCode.values:
            self.error(prefix + "code", _("負担区分は1〜4で入力してください。"))
            return
        numbers: dict[str, int] = {}
        for part in ("amount", "rate", "cap"):
            text = self.values.get(prefix + part, "")
            value = _integer(text) if text else 0
            if value is None:
                self.error(prefix + part, _("0以上の整数で入力してください。"))
                return
            numbers[part] = value
        if numbers["rate"] > RATE_SCALE:
            self.error(prefix + "rate", _("負担率は%×1000で100000以下です（30%%は30000）。"))
        if code == CopayCode.FIXED and not numbers["amount"]:
            self.error(prefix + "amount", _("定額負担の場合は負担額を入力してください。"))
        if code == CopayCode.RATE and not numbers["rate"]:
            self.error(prefix + "rate", _("定率負担の場合は負担率を入力してください。"))
        if code == CopayCode.INSURER_CAP and not numbers["cap"]:
            self.error(prefix + "cap", _("保険者負担上限額を入力してください。"))
        if numbers["amount"] > 999_999 or numbers["cap"] > 999_999:
            self.error(prefix + "amount", _("負担額・上限額は999999円以下です。"))
        self.fields[prefix + "code"] = code
        for part, value in numbers.items():
            self.fields[prefix + part] = value


def parse_csv(data: bytes) -> list[dict[str, Any]]:
    """Every row as ticket fields; raise EligibilityFileInvalid listing every problem by line."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise EligibilityFileInvalid([RowError(1, "", _("ファイルが大きすぎます（20MBまで）。"))])
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader)]
    except (StopIteration, csv.Error):
        raise EligibilityFileInvalid([RowError(1, "", _("見出し行がありません。"))]) from None
    by_label = {label: key for key, label in COLUMNS.items()}
    errors: list[RowError] = []
    unknown = [label for label in header if label not in by_label]
    missing = [label for key, label in IDENTITY_COLUMNS.items() if label not in header]
    duplicated = sorted({label for label in header if header.count(label) > 1})
    for label in unknown:
        errors.append(RowError(1, label, _("不明な列です。")))
    for label in missing:
        errors.append(RowError(1, label, _("必須の列がありません。")))
    for label in duplicated:
        errors.append(RowError(1, label, _("同じ列が複数あります。")))
    if errors:
        raise EligibilityFileInvalid(errors)
    keys = [by_label[label] for label in header]
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        for line, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                errors.append(RowError(line, "", _("行数が上限（%(max)d行）を超えています。") % {"max": MAX_ROWS}))
                break
            if len(cells) != len(keys):
                errors.append(RowError(line, "", _("列の数が見出し行と一致しません（%(got)d列）。") % {"got": len(cells)}))
                continue
            values = {key: cell.strip() for key, cell in zip(keys, cells, strict=True)}
            parsed = _Row(line, values, errors).parse()
            if parsed is None:
                continue
            first = seen.setdefault((parsed["kind"], parsed["ticket_number"]), line)
            if first != line:
                errors.append(RowError(line, COLUMNS["ticket_number"], _("%(line)d行目と同じ受診券整理番号です。") % {"line": first}))
                continue
            rows.append(parsed)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "", _("CSVとして読み取れません: %(error)s") % {"error": exc}))
    if errors:
        raise EligibilityFileInvalid(errors)
    if not rows:
        raise EligibilityFileInvalid([RowError(2, "", _("データ行がありません。"))])
    return rows


def eligibility_upload(
    *, insurer: Insurer, file_name: str, data: bytes, actor: Any, request: HttpRequest | None = None
) -> UploadResult:
    """Import one CSV of issued tickets for ``insurer``, whole or not at all (audited either way)."""
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        rows = parse_csv(data)
    except EligibilityFileInvalid as invalid:
        audit_record(
            action="eligibility.upload_refused",
            actor=actor,
            request=request,
            outcome=Outcome.FAILURE,
            object_type="insurer",
            object_ids=[insurer.pk],
            detail={"file_name": file_name[:255], "sha256": sha256, "errors": invalid.total},
        )
        raise
    with transaction.atomic():
        upload = EligibilityUpload(
            insurer=insurer,
            file_name=file_name[:255],
            sha256=sha256,
            uploaded_at=timezone.now(),
            uploaded_by=actor if isinstance(actor, User) else None,
            row_count=len(rows),
            created_count=0,
            updated_count=0,
        )
        upload.full_clean()
        upload.save()
        existing = {
            (ticket.kind, ticket.ticket_number): ticket
            for ticket in EligibilityTicket.objects.select_for_update().filter(
                insurer=insurer, ticket_number__in=[row["ticket_number"] for row in rows]
            )
        }
        fields = [key for key in COLUMNS if key not in ("ticket_number", "kind")]
        changed: list[EligibilityTicket] = []
        new: list[EligibilityTicket] = []
        for row in rows:
            ticket = existing.get((row["kind"], row["ticket_number"]))
            if ticket is None:
                new.append(EligibilityTicket(insurer=insurer, upload=upload, **row))
            else:
                for key in fields:
                    setattr(ticket, key, row[key])
                ticket.upload = upload
                changed.append(ticket)
        EligibilityTicket.objects.bulk_create(new, batch_size=2000)
        EligibilityTicket.objects.bulk_update(changed, [*fields, "upload"], batch_size=2000)
        upload.created_count, upload.updated_count = len(new), len(changed)
        upload.save(update_fields=["created_count", "updated_count"])
        audit_record(
            action="eligibility.uploaded",
            actor=actor,
            request=request,
            object_type="eligibility_upload",
            object_ids=[upload.pk],
            detail={"insurer": insurer.number, "file_name": upload.file_name, "sha256": sha256, "rows": len(rows),
                    "created": len(new), "updated": len(changed)},
        )
    return UploadResult(upload, len(new), len(changed))
