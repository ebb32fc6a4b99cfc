"""Level 1: the agency's rules on each record — clients, contracts, tickets, prices and copays, age,
dates, items — and the duplicate checks against everything accepted so far."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from agency.models import Contract, Insurer
from kenshin import copay
from kenshin import rules as standard_rules
from kenshin.checkdigits import is_valid_insurer_number
from kenshin.findings import Finding, Severity
from kenshin.items import item_master
from kenshin.reader import ArchiveReading
from kenshin.records import CheckupDocument

from ..models import Record, RecordStatus, Submission
from . import tickets
from .catalogue import ERROR, R, rule
from .pending import PendingRecord

CREATININE_PREFIX = "3C015"
EGFR = "8A065000002391901"

INSURER_UNKNOWN = rule(
    "REC_INSURER_UNKNOWN", 1, ERROR, R.NOT_CONTRACTED, "保険者番号が当代行機関の契約保険者ではありません",
    "受診券に記載の保険者番号を確認してください。契約のない保険者への請求は直接行ってください。",
)
NO_CONTRACT = rule(
    "REC_NO_CONTRACT", 1, ERROR, R.NOT_CONTRACTED, "健診実施日に有効な保険者との契約（同じ単価区分）がありません",
    "契約期間と委託料単価区分（個別/集団）を確認してください。",
)
TICKET_INVALID = rule(
    "REC_TICKET_INVALID", 1, ERROR, R.TICKET_NUMBER, "受診券整理番号がないか11桁の数字ではありません",
    "受診券の整理番号（11桁）を正しく入力してください。",
)
TICKET_EXPIRED = rule(
    "REC_TICKET_EXPIRED", 1, ERROR, R.EXPIRED, "健診実施日が受診券の有効期限を過ぎています",
    "受診券の有効期限と健診実施日を確認してください。",
)
AGE_OUT_OF_RANGE = rule(
    "REC_AGE_OUT_OF_RANGE", 1, ERROR, R.NOT_CONTRACTED, "特定健診の対象年齢（年度末40歳以上・受診日74歳以下）ではありません",
    "生年月日と健診実施日を確認してください。",
)
ITEM_REQUIRED_MISSING = rule(
    "ITM_REQUIRED_MISSING", 1, ERROR, R.MISSING, "必須の健診項目（またはいずれか必須の項目群）がありません",
    "基本的な健診項目と質問票の必須項目を入力してください。未実施の場合は理由を記録してください。",
)
ITEM_INPUT_RANGE = rule(
    "ITM_INPUT_RANGE", 1, ERROR, R.ABNORMAL_RESULT, "入力範囲外の値にH/Lの表示がありません",
    "入力範囲の下限未満はL、上限超はHを併記し、実測値も記録してください。",
)
ITEM_BMI = rule(
    "ITM_BMI_INCONSISTENT", 1, ERROR, R.ABNORMAL_RESULT, "BMIが身長・体重から計算した値と一致しません",
    "BMI = 体重(kg) ÷ 身長(m)² を小数第1位に四捨五入した値にしてください。",
)
ITEM_FASTING = rule(
    "ITM_FASTING_TIMING", 1, ERROR, R.ABNORMAL_RESULT, "空腹時・随時の検査項目と採血時間（食後）の区分が一致しません",
    "空腹時の中性脂肪・血糖は採血時間コード2（10時間以上）、随時の値はコード3または4で記録してください。",
)
ITEM_EGFR_MISSING = rule(
    "ITM_EGFR_MISSING", 1, ERROR, R.MISSING, "血清クレアチニンを実施した場合はeGFRが必要です",
    "詳細な健診で血清クレアチニンを実施した場合はeGFRも記録してください。",
)
CHECKUP_AFTER_FILE_DATE = rule(
    "REC_CHECKUP_AFTER_FILE_DATE", 1, ERROR, R.FORMAT, "健診実施日がファイル作成日より後です",
    "健診実施日とファイル作成日を確認してください。",
)
CHECKUP_DATE_MISSING = rule(
    "REC_CHECKUP_DATE_MISSING", 1, ERROR, R.MISSING, "健診実施日がありません", "健診実施日を入力してください。",
)
PRICE_MISMATCH = rule(
    "REC_PRICE_MISMATCH", 1, ERROR, R.OTHER, "請求の単価が契約の単価と一致しません",
    "契約で定めた基本・詳細・追加項目の単価で請求してください。",
)
COPAY_MISMATCH = rule(
    "REC_COPAY_MISMATCH", 1, ERROR, R.COPAY, "窓口負担額または請求額が契約の負担条件による再計算と一致しません",
    "受診券の窓口負担（定額・定率・上限額）と単価から窓口負担額と請求額を再計算してください。",
)
CLAIM_MISSING = rule(
    "REC_CLAIM_MISSING", 1, ERROR, R.MISSING, "決済情報ファイルがありません", "健診結果ファイルと対になる決済情報ファイルを含めてください。",
)
DUPLICATE_ACCEPTED = rule(
    "REC_DUPLICATE", 1, ERROR, R.OTHER, "同じ保険者番号・受診券整理番号・健診実施日の健診が既に受理されています",
    "再提出の場合は返戻された受付の訂正データとして送付してください。二重請求はできません。",
)
TICKET_REUSED = rule(
    "REC_TICKET_REUSED", 1, ERROR, R.TICKET_NUMBER, "同じ保険者の受診券整理番号が別の受診者に使われています",
    "受診券整理番号を受診券で確認してください。",
)
DUPLICATE_PERSON = rule(
    "REC_DUPLICATE_PERSON", 1, ERROR, R.OTHER, "同じ受診者・同じ健診実施日の健診が既に受理されています",
    "二重請求になっていないか確認してください。",
)


@dataclass
class References:
    """Reference data for one archive's records: insurers and contracts loaded once per insurer
    number met, the 受診券 of each batch (a fixed number of queries per batch)."""

    institution: Any
    file_date: dt.date | None
    insurers: dict[str, Insurer | None] = field(default_factory=dict)
    contracts: dict[tuple[str, int], list[Contract]] = field(default_factory=dict)
    tickets: tickets.TicketLookup | None = None  # the 受診券 uploaded by the batch's insurers
    terms: dict[int, copay.ContractTerms] = field(default_factory=dict)  # by contract, built once

    @classmethod
    def for_archive(cls, reading: ArchiveReading, submission: Submission) -> References:
        index, name = reading.index, reading.archive_name
        file_date = index.created_on if index else (name.submitted_on if name else None)
        return cls(submission.institution, file_date)

    def load(self, pending: Sequence[PendingRecord]) -> None:
        """Make the insurers, contracts and tickets of a batch of records available."""
        numbers = {p.record.insurer_number for p in pending} - self.insurers.keys()
        if numbers:
            found = {i.number: i for i in Insurer.objects.filter(number__in=numbers, is_active=True)}
            self.insurers.update({number: found.get(number) for number in numbers})
            for contract in Contract.objects.filter(
                insurer__number__in=numbers, institution=self.institution
            ).select_related("insurer").prefetch_related("other_items"):
                self.contracts.setdefault((contract.insurer.number, contract.commission_type), []).append(contract)
        self.tickets = tickets.tickets_for(pending)

    def terms_of(self, contract: Contract) -> copay.ContractTerms:
        terms = self.terms.get(contract.pk)
        if terms is None:
            terms = self.terms[contract.pk] = contract_terms(contract)
        return terms


def contract_terms(contract: Contract) -> copay.ContractTerms:
    """The contract's prices and copay rules in the terms the claim arithmetic takes."""
    return copay.terms_from_contract(contract)


def _claim_findings(pending: PendingRecord, terms: copay.ContractTerms) -> list[Finding]:
    claim = pending.claim
    if claim is None:
        return []
    differences = standard_rules.copay_differences(claim, terms)
    path = pending.record.claim_path
    if any(field.startswith("unit_price") or "not priced" in field for field in differences):
        return [PRICE_MISMATCH.at(file=path, xpath="/checkupClaim/settlement", detail=", ".join(differences))]
    if differences:
        return [COPAY_MISMATCH.at(file=path, xpath="/checkupClaim/settlement", detail=", ".join(differences))]
    return []


def _item_findings(document: CheckupDocument, path: str) -> list[Finding]:
    master = item_master()
    found: list[Finding] = []
    missing = standard_rules.missing_required_items(document, master)
    if missing:
        found.append(ITEM_REQUIRED_MISSING.at(file=path, xpath="//section", detail=", ".join(missing[:10])))
    out_of_range = standard_rules.input_range_violations(document, master)
    if out_of_range:
        found.append(ITEM_INPUT_RANGE.at(file=path, xpath="//observation/value", detail=", ".join(out_of_range[:10])))
    if standard_rules.bmi_inconsistent(document):
        found.append(ITEM_BMI.at(file=path, xpath=f"//observation[code/@code='{standard_rules.BMI}']"))
    conflicts = standard_rules.fasting_conflicts(document)
    if conflicts:
        found.append(ITEM_FASTING.at(file=path, xpath=f"//observation[code/@code='{standard_rules.BLOOD_DRAW_TIMING}']",
                                     detail=", ".join(conflicts)))
    results = document.results()
    creatinine = [code for code in results if code.startswith(CREATININE_PREFIX) and results[code].value is not None]
    if creatinine and EGFR not in results:
        found.append(ITEM_EGFR_MISSING.at(file=path, xpath="//section"))
    return found


def record_findings(pending: PendingRecord, refs: References) -> list[Finding]:
    """The agency's per-record rules (level 1)."""
    record = pending.record
    path = record.data_path
    found: list[Finding] = []
    if pending.claim is None:
        found.append(CLAIM_MISSING.at(file=path))
    if not record.ticket_number.isdigit() or len(record.ticket_number) != 11:
        found.append(TICKET_INVALID.at(file=path, xpath="//participant/associatedEntity/id/@extension"))
    day = record.checkup_date
    if day is None:
        found.append(CHECKUP_DATE_MISSING.at(file=path, xpath="//documentationOf/serviceEvent/effectiveTime/@value"))
        return found
    ticket = pending.checkup.ticket if pending.checkup else None
    expires = (ticket.expires_on if ticket else None) or (pending.claim.ticket_expires_on if pending.claim else None)
    if expires is not None and expires < day:
        found.append(TICKET_EXPIRED.at(file=path, xpath="//participant/time/high/@value", detail=f"{expires:%Y-%m-%d}"))
    if refs.file_date is not None and day > refs.file_date:
        found.append(CHECKUP_AFTER_FILE_DATE.at(file=path, xpath="//documentationOf/serviceEvent/effectiveTime/@value"))
    if record.birth_date is not None and not standard_rules.age_eligible(record.birth_date, day):
        age = standard_rules.age_on(record.birth_date, standard_rules.fiscal_year_end(day))
        found.append(AGE_OUT_OF_RANGE.at(file=path, xpath="//patient/birthTime/@value", detail=f"年度末 {age}歳"))
    if pending.checkup is not None:
        found += _item_findings(pending.checkup, path)
    if not is_valid_insurer_number(record.insurer_number):
        return found  # the reader has reported the check digit
    insurer = refs.insurers.get(record.insurer_number)
    if insurer is None:
        found.append(INSURER_UNKNOWN.at(file=path, xpath="//recordTarget/patientRole/id", detail=record.insurer_number))
        return found
    record.insurer = insurer
    found += tickets.ticket_findings(pending, refs.tickets)  # only for insurers that uploaded tickets
    commission = int(pending.claim.settlement.commission_type) if pending.claim and pending.claim.settlement.commission_type.isdigit() else None
    candidates = refs.contracts.get((insurer.number, commission), []) if commission else []
    contract = next((c for c in candidates if c.is_valid_on(day)), None)
    if contract is None:
        found.append(NO_CONTRACT.at(file=path))
        return found
    found += _claim_findings(pending, refs.terms_of(contract))
    return found


def _person(record: Record) -> tuple[Any, ...]:
    return (record.insurer_number, record.card_symbol, record.card_number, record.card_branch, record.birth_date)


def duplicate_findings(records: Sequence[Record], blocked: AbstractSet[int] = frozenset()) -> dict[int, list[Finding]]:
    """Records that would count a checkup twice, against everything accepted so far and earlier
    records of the same batch: the same business key (保険者番号 + 受診券整理番号 + 健診実施日), the
    same person on the same day, or one ticket used by two people."""
    tickets = {(r.insurer_number, r.ticket_number) for r in records if r.ticket_number}
    people = {(*_person(r), r.checkup_date) for r in records}
    accepted = Record.objects.filter(status=RecordStatus.ACCEPTED, insurer_number__in={r.insurer_number for r in records})
    person_fields = ("insurer_number", "card_symbol", "card_number", "card_branch", "birth_date")
    ticket_holders: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
    seen_keys: set[tuple[Any, ...]] = set()
    # Indexed IN-lists select a superset; the exact pairs are matched here.
    for row in accepted.filter(ticket_number__in={t for _, t in tickets}).values_list(
        "ticket_number", "checkup_date", *person_fields
    ):
        ticket, day, person = row[0], row[1], row[2:]
        if (person[0], ticket) in tickets:
            ticket_holders.setdefault((person[0], ticket), set()).add(person)
            seen_keys.add((person[0], ticket, day))
    seen_people = {
        row
        for row in accepted.filter(card_number__in={r.card_number for r in records}).values_list(*person_fields, "checkup_date")
        if row in people
    }
    found: dict[int, list[Finding]] = {}
    for record in records:
        key = (record.insurer_number, record.ticket_number, record.checkup_date)
        person = _person(record)
        holders = ticket_holders.setdefault((record.insurer_number, record.ticket_number), set())
        if key in seen_keys:
            found.setdefault(record.pk, []).append(DUPLICATE_ACCEPTED.at(file=record.data_path))
        elif (*person, record.checkup_date) in seen_people:
            found.setdefault(record.pk, []).append(DUPLICATE_PERSON.at(file=record.data_path))
        elif record.ticket_number and holders - {person}:
            found.setdefault(record.pk, []).append(TICKET_REUSED.at(file=record.data_path, detail=record.ticket_number))
        if record.pk in blocked or record.pk in found:
            continue  # a returned record claims nothing
        seen_keys.add(key)
        seen_people.add((*person, record.checkup_date))
        if record.ticket_number:
            holders.add(person)
    return found


def blocking(findings: Iterable[Finding]) -> bool:
    return any(f.severity in (Severity.ERROR, Severity.FATAL) for f in findings)
