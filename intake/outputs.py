"""What the agency hands back for a submission: the 受領書, the 受付エラー連絡表 and the 返戻 archive.

Pure reads over one `Submission` the caller has already loaded through ``intake.access``: nothing
here writes to the database. The same receipt dictionary feeds the HTML page, the JSON download and
the PDF, so the three never disagree. Regenerating any of them for the same submission gives the
same content (no "printed at" clock, dates from the submission itself).

- `receipt(submission)` → dict; `receipt_json` / `receipt_pdf` → bytes.
- `error_list_rows` / `error_list_csv` (UTF-8 with BOM, for Excel) / `error_list_pdf`.
- `returned_archive(submission)` → a 種別 2 standard archive (代行機関 → 健診機関) holding only the
  returned records, each claim carrying ``agencyAdjudicationResult`` with its 別表9 返戻理由, built
  from the stored original bytes re-read with the standard-format reader.
- `record_content(record)` → the checkup and claim of one record (read back from the stored archive
  by ``selectors.record_parsed``), laid out for display.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q

from agency.models import AgencyProfile
from core.pdf import render_pdf
from kenshin import assemble, labels
from kenshin import records as standard_records
from kenshin.codes import ReturnReason
from kenshin.items import item_master
from kenshin.reader import ArchiveReading
from kenshin.records import AdjudicationResult, Member
from kenshin.writer import write_archive

from . import selectors, storage, wording
from .models import Channel, Finding, Record, RecordStatus, Submission, SubmissionStatus

logger = logging.getLogger(__name__)

JST = ZoneInfo("Asia/Tokyo")
REASON_TEXT_MAX = 100  # agencyAdjudicationResult/reason/text: at most 100 characters
BLOCKING = (Finding.Severity.FATAL, Finding.Severity.ERROR)

# The CSV header is a fixed interchange format (institutions' systems read it), hence not translated.
# The person is named as clerks name them; ファイル and XPath (last) locate the defect for the sender's system.
ERROR_LIST_COLUMNS = (
    "受領番号", "順番", "受診券整理番号", "保険者番号", "氏名カナ", "生年月日", "健診実施日",
    "コード", "重大度", "返戻理由コード", "返戻理由", "内容", "対処方法", "ファイル", "XPath",
)
# What the HTML and PDF error lists show (the receipt number is in their heading; XPath only in the CSV).
ERROR_LIST_SHOWN = ERROR_LIST_COLUMNS[1:-1]
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# --- helpers -------------------------------------------------------------------------------------------


def _jst(moment: datetime | None) -> datetime | None:
    return moment.astimezone(JST) if moment is not None else None


def _iso(moment: datetime | None) -> str | None:
    local = _jst(moment)
    return local.isoformat(timespec="seconds") if local is not None else None


def _display(moment: datetime | None) -> str:
    local = _jst(moment)
    return local.strftime("%Y-%m-%d %H:%M:%S") if local is not None else ""


reason_label = wording.reason_label


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _agency() -> dict[str, str]:
    profile = AgencyProfile.objects.values("name", "agency_code").first()
    return {"name": profile["name"], "code": profile["agency_code"]} if profile else {"name": "", "code": ""}


# --- 受領書 ------------------------------------------------------------------------------------------------


def receipt(submission: Submission) -> dict[str, Any]:
    """The receipt's figures. Money is integer yen; times are JST (ISO 8601 with +09:00)."""
    severities = {row["severity"]: row["n"] for row in _severity_counts(submission)}
    return {
        "receipt_number": submission.receipt_number,
        "received_at": _iso(submission.received_at),
        "received_at_display": _display(submission.received_at),
        "checked_at": _iso(submission.checked_at),
        "checked_at_display": _display(submission.checked_at),
        "sha256": submission.archive.sha256,
        "size": submission.archive.size,
        "file_name": submission.file_name,
        "channel": submission.channel,
        "channel_label": _label(Channel, submission.channel),
        # The sender: the institution, or the insurer for its own upload (``sent_by_insurer``).
        "institution": {"number": submission.sender_number, "name": submission.sender_name},
        "sent_by_insurer": submission.sent_by_insurer,
        "agency": _agency(),
        "interaction_type": submission.interaction_type,
        "service_event_type": submission.service_event_type,
        "counts": {
            "files": submission.file_count,
            "records_total": submission.records_total,
            "records_checked": submission.records_checked,
            "records_accepted": submission.records_accepted,
            "records_returned": submission.records_returned,
        },
        "amounts": {
            "claimed": int(submission.amount_claimed),
            "accepted": int(submission.amount_accepted),
            "returned": int(submission.amount_returned),
        },
        "findings": {str(s): int(severities.get(s, 0)) for s in Finding.Severity.values},
        "status": submission.status,
        "status_label": _label(SubmissionStatus, submission.status),
        "final": submission.is_final,
        "rule_set": submission.rule_set,
    }


def _severity_counts(submission: Submission) -> Iterable[Mapping[str, Any]]:
    findings = selectors.finding_list(submission=submission).exclude(code__in=wording.AGENCY_CONFIGURATION_CODES)
    return findings.order_by().values("severity").annotate(n=Count("pk"))


def receipt_json(submission: Submission) -> bytes:
    return json.dumps(receipt(submission), ensure_ascii=False, indent=2).encode("utf-8")


# --- 受付エラー連絡表 -------------------------------------------------------------------------------------


def _findings_in_order(submission: Submission) -> list[Finding]:
    """Archive-level findings first, then by record position (the same order on every database)."""
    findings = list(selectors.finding_list(submission=submission))
    return sorted(findings, key=lambda f: (f.record.position if f.record is not None else 0, f.pk))


def _date(value: date | None) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else ""


def error_list_rows(submission: Submission) -> list[dict[str, str]]:
    """One row per defect, keyed by `ERROR_LIST_COLUMNS`: who (as clerks name the person), what, why
    (別表9), what to do; the agency's own configuration and repeated findings are left out."""
    rows = []
    for finding in wording.shown_to_institutions(_findings_in_order(submission)):
        record = finding.record
        rule = wording.rule_of(finding.code)
        values = (
            submission.receipt_number,
            str(record.position) if record is not None else "",
            record.ticket_number if record is not None else "",
            record.insurer_number if record is not None else "",
            record.name_kana if record is not None else "",
            _date(record.birth_date) if record is not None else "",
            _date(record.checkup_date) if record is not None else "",
            finding.code,
            _label(Finding.Severity, finding.severity),
            finding.return_reason,
            reason_label(finding.return_reason),
            wording.finding_text(finding.code, finding.message),
            rule.get("hint") or "",
            finding.file,
            finding.xpath,
        )
        rows.append(dict(zip(ERROR_LIST_COLUMNS, values, strict=True)))
    return rows


def csv_cell(value: str) -> str:
    """Neutralise spreadsheet formulas: file names and messages can carry text from the upload."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def error_list_csv(submission: Submission) -> bytes:
    """UTF-8 with a byte-order mark and CRLF line ends, so that Excel opens it as Japanese text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ERROR_LIST_COLUMNS)
    for row in error_list_rows(submission):
        writer.writerow([csv_cell(row[column]) for column in ERROR_LIST_COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


# --- PDF --------------------------------------------------------------------------------------------------


def receipt_pdf(submission: Submission) -> bytes:
    return render_pdf("intake/pdf/receipt.html", {"receipt": receipt(submission)})


def error_list_pdf(submission: Submission) -> bytes:
    return render_pdf(
        "intake/pdf/error_list.html",
        {
            "receipt": receipt(submission),
            "columns": ERROR_LIST_SHOWN,
            "rows": error_list_rows(submission),
        },
    )


# --- 返戻 archive (種別 2) ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnedArchive:
    filename: str
    data: bytes
    record_ids: tuple[int, ...]
    missing_record_ids: tuple[int, ...] = ()  # returned records whose files the reader could not rebuild


def _stem(path: str) -> str:
    return Member(path, None).stem


def returned_records(submission: Submission) -> list[Record]:
    """Records the agency's checks returned (a record an insurer returned later, 過誤, goes back separately)."""
    return list(
        submission.records.filter(status=RecordStatus.RETURNED, insurer_return__isnull=True).order_by("position")
    )


def adjudication_reasons(submission: Submission) -> dict[int, tuple[str, str]]:
    """Per returned record: the 別表9 code of its first blocking finding and the messages (≤100 chars)."""
    blocking = [
        finding
        for finding in wording.shown_to_institutions(_findings_in_order(submission))
        if finding.record is not None and finding.severity in BLOCKING
    ]
    reasons: dict[int, tuple[str, list[str]]] = {}
    for finding in blocking:
        _first_code, messages = reasons.setdefault(
            finding.record_id, (finding.return_reason or ReturnReason.OTHER.value, [])
        )
        text = wording.finding_text(finding.code, finding.message)
        if text not in messages:
            messages.append(text)
    return {record_id: (code, _truncate("；".join(messages))) for record_id, (code, messages) in reasons.items()}


def _truncate(text: str) -> str:
    return text if len(text) <= REASON_TEXT_MAX else text[: REASON_TEXT_MAX - 1] + "…"


def _same_day_count(submission: Submission, day: date) -> int:
    """Returns sent to one institution on one day are numbered 0–9 by when they were checked."""
    earlier = (
        Submission.objects.filter(institution=submission.institution, records_returned__gt=0)
        .filter(Q(checked_at__lt=submission.checked_at) | Q(checked_at=submission.checked_at, pk__lt=submission.pk))
        .filter(checked_at__date=day)
        if submission.checked_at is not None
        else Submission.objects.none()
    )
    return min(earlier.count(), 9)


def _archive_password(submission: Submission) -> str | None:
    return selectors.submission_archive_password(submission) or None


def _returned_part(submission: Submission, stems: set[str]) -> standard_records.Submission | None:
    """The submission as received, holding only the files of the given people (read a person at a
    time, so that a large archive with a few returned records stays small in memory)."""
    data = storage.read(submission.archive.sha256)
    checkups: list[Member[Any]] = []
    claims: list[Member[Any]] = []
    guidance: list[Member[Any]] = []
    guidance_claims: list[Member[Any]] = []
    with ArchiveReading(
        data, filename=submission.file_name, password=_archive_password(submission), xsd_dir=None, master=None
    ) as reading:
        for read in reading.records():
            pair = read.pair
            for member, into in (
                (pair.checkup, checkups), (pair.claim, claims), (pair.guidance, guidance), (pair.guidance_claim, guidance_claims)
            ):
                if member is not None and member.stem in stems:
                    into.append(member)
        name, index, summary = reading.archive_name, reading.index, reading.summary
    if name is None or index is None:
        return None
    return standard_records.Submission(
        name=name, index=index, summary=summary, checkups=tuple(checkups), claims=tuple(claims),
        guidance=tuple(guidance), guidance_claims=tuple(guidance_claims),
    )


def returned_archive(submission: Submission, *, xsd_dir: str | None = None) -> ReturnedArchive | None:
    """The 種別 2 archive of the returned records, or None when no record was returned.

    Sender: this agency (AgencyProfile.agency_code, OID …6.103; the address the institution used
    when no profile is configured). Receiver: the submitting institution (OID …6.102).
    ``xsd_dir`` copies the official schemas into the archive's XSD folder when given.
    """
    records = returned_records(submission)
    if not records or submission.institution is None:
        return None  # an insurer's own upload: its error list says what was returned and why
    original = _returned_part(submission, {_stem(record.data_path) for record in records})
    if original is None:
        return None
    agency_code = _agency()["code"] or (original.index.receiver.extension if original.index.receiver else "")
    if not agency_code:
        return None
    institution = assemble.institution_party(submission.institution.number)
    original = replace(original, index=replace(original.index, sender=institution))
    day = _jst(submission.checked_at or submission.received_at).date()
    reasons = adjudication_reasons(submission)
    results: dict[str, AdjudicationResult] = {}
    for record in records:
        code, text = reasons.get(record.pk, (ReturnReason.OTHER.value, ""))
        results[_stem(record.data_path)] = AdjudicationResult(
            interaction_type="2", recorded_on=day, reason_code=code, reason_text=text or None
        )
    present = {member.stem for member in original.checkups} | {member.stem for member in original.guidance}
    returned = assemble.return_to_institution(
        original, results, agency_number=agency_code, submitted_on=day, same_day_count=_same_day_count(submission, day)
    )
    payload = write_archive(returned, xsd_dir=xsd_dir)
    return ReturnedArchive(
        filename=returned.name.filename,
        data=payload,
        record_ids=tuple(r.pk for r in records if _stem(r.data_path) in present),
        missing_record_ids=tuple(r.pk for r in records if _stem(r.data_path) not in present),
    )


# --- one record's content, for display ---------------------------------------------------------------------


def _observation_rows(observations: Iterable[Mapping[str, Any]], depth: int = 0) -> Iterable[dict[str, Any]]:
    master = item_master()
    for observation in observations:
        code = observation.get("code")
        definition = master.get(code) if code else None
        value = observation.get("value")
        if value is None and observation.get("answer_code"):
            value = labels.answer_text(observation.get("answer_oid"), observation["answer_code"])
        if value is None and observation.get("null_flavor"):
            value = observation["null_flavor"]
        yield {
            "depth": depth,
            "code": code or "",
            "name": (definition.name if definition else observation.get("display_name")) or "",
            "value": value if value is not None else "",
            "unit": observation.get("unit") or "",
            "flag": observation.get("input_range_flag") or observation.get("interpretation") or "",
        }
        children = [rel.get("observation", {}) for rel in observation.get("relationships") or ()]
        yield from _observation_rows(children, depth + 1)


_SETTLEMENT_FIELDS = (
    "claim_type", "commission_type", "unit_price_basic", "payment_basic", "payment_detail", "payment_other",
    "unit_amount", "payment_amount", "payment_by_other_program", "claim_amount",
)


def _settlement(settlement: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every field present (the stored form leaves out empty ones), None where the file had none."""
    if not settlement:
        return {}
    found: dict[str, Any] = {name: settlement.get(name) for name in _SETTLEMENT_FIELDS}
    found["claim_type"] = labels.coded(labels.CLAIM_TYPE, found["claim_type"])
    found["commission_type"] = labels.coded(labels.COMMISSION, found["commission_type"])
    found["unit_price_details"] = [
        {**line, "label": labels.coded(labels.DETAIL_ITEM, line.get("code"))} for line in settlement.get("unit_price_details") or []
    ]
    found["unit_price_others"] = settlement.get("unit_price_others") or []
    return found


def record_content(record: Record) -> dict[str, Any]:
    """The record's checkup and claim, read back from the stored archive and flattened for a page.

    ``available`` is False when the stored files cannot be read back (the page still shows the
    record's indexed columns and findings).
    """
    try:
        content = selectors.record_parsed(record)
    except Exception:
        logger.exception("record %s: content could not be read back from the stored archive", record.pk)
        content = {}
    checkup = content.get("checkup") or {}
    claim = content.get("claim") or {}
    header = checkup.get("header") or {}
    subject = header.get("subject") or claim.get("subject") or {}
    tickets = header.get("tickets") or []
    observations = [
        row
        for section in checkup.get("sections") or ()
        for row in _observation_rows(section.get("observations") or ())
    ]
    return {
        "available": bool(checkup or claim),
        "subject": {
            "insurer_number": subject.get("insurer_number") or record.insurer_number,
            "card_symbol": subject.get("card_symbol") or record.card_symbol,
            "card_number": subject.get("card_number") or record.card_number,
            "card_branch": subject.get("card_branch") or record.card_branch,
            "name_kana": subject.get("name_kana") or record.name_kana,
            "sex": labels.coded(labels.SEX, subject.get("sex") or record.sex),
            "birth_date": subject.get("birth_date") or (record.birth_date.isoformat() if record.birth_date else ""),
            "postal_code": subject.get("postal_code") or "",
            "address": subject.get("address") or "",
        },
        "ticket": tickets[0] if tickets else {"number": record.ticket_number, "expires_on": None},
        "checkup_date": header.get("service_date") or (record.checkup_date.isoformat() if record.checkup_date else ""),
        "created_on": header.get("created_on") or "",
        "author": (header.get("performer") or header.get("author") or {}).get("name", ""),
        "observations": observations,
        "claim": claim,
        "settlement": _settlement(claim.get("settlement")),
    }
