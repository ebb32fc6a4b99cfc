"""Level 1: the agency's rules on each record — clients, contracts, tickets, prices and copays, age,
dates, items, the questionnaire — and the duplicate checks against everything accepted so far
(the same checkup twice, and a second 特定健診 of a person in one 年度)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Any

from agency.contracts import AppliedContract, ContractBook
from agency.models import Contract, Insurer
from kenshin import copay, stratification
from kenshin import rules as standard_rules
from kenshin.checkdigits import is_valid_insurer_number
from kenshin.codes import ClaimType, DetailItem
from kenshin.findings import Finding, Severity
from kenshin.items import item_master
from kenshin.reader import ArchiveReading
from kenshin.records import Claim

from ..models import CHECKUP_KINDS, EligibilityTicket, Record, RecordKind, RecordStatus, Submission
from . import tickets
from .catalogue import ERROR, WARNING, R, rule
from .guidance import guidance_duplicates, guidance_findings, load_guidance_references
from .pending import PendingRecord

CREATININE_PREFIX = "3C015"
EGFR = "8A065000002391901"

CONTRACTS = "当代行機関と保険者・健診機関との契約（集合契約・個別契約）"
ITEM_TABLE = "XML用特定健診項目情報（第4期）と当代行機関の項目マスタ"
PROGRAM = "標準的な健診・保健指導プログラム（令和6年度版）"
CLAIM_ARITHMETIC = "日医特定健診システム（ORCA）と同じ決済情報の計算"

INSURER_UNKNOWN = rule(
    "REC_INSURER_UNKNOWN", 1, ERROR, R.NOT_CONTRACTED, "保険者番号が当代行機関の契約保険者ではありません",
    "受診券に記載の保険者番号を確認してください。契約のない保険者への請求は直接行ってください。",
    source=CONTRACTS,
)
NO_CONTRACT = rule(
    "REC_NO_CONTRACT", 1, ERROR, R.NOT_CONTRACTED, "健診実施日に有効な保険者との契約（同じ単価区分）がありません",
    "契約期間と委託料単価区分（個別/集団）を確認してください。集合契約では、保険者と健診機関の両方が健診実施日に"
    "参加していることが必要です（詳細に確認した契約を示します）。",
    source=f"{CONTRACTS}: 個別契約を優先し、なければ保険者と健診機関の両方が健診実施日に参加している集合契約",
)
TICKET_INVALID = rule(
    "REC_TICKET_INVALID", 1, ERROR, R.TICKET_NUMBER, "受診券整理番号がないか11桁の数字ではありません",
    "受診券の整理番号（11桁）を正しく入力してください。受診券を発行しない個別契約では整理番号は不要です（契約の設定を確認してください）。",
    source="co08_V08.xsd（受診券整理番号 11桁）と契約（受診券を発行するか）",
)
TICKET_EXPIRED = rule(
    "REC_TICKET_EXPIRED", 1, ERROR, R.EXPIRED, "健診実施日が受診券の有効期限を過ぎています",
    "受診券の有効期限と健診実施日を確認してください。",
    source="受診券の有効期限（特定健診情報 participant/time/high・決済情報 checkupCard/effectiveTime）",
)
AGE_OUT_OF_RANGE = rule(
    "REC_AGE_OUT_OF_RANGE", 1, ERROR, R.NOT_CONTRACTED, "特定健診の対象年齢（年度末40歳以上・受診日74歳以下）ではありません",
    "生年月日と健診実施日を確認してください。",
    source="高齢者の医療の確保に関する法律 第20条（40歳以上の加入者）・後期高齢者医療（75歳以上）は対象外",
)
ITEM_REQUIRED_MISSING = rule(
    "ITM_REQUIRED_MISSING", 1, ERROR, R.MISSING, "必須の健診項目（またはいずれか必須の項目群）がありません",
    "基本的な健診項目と質問票の必須項目を入力してください。生理中・腎疾患等で尿検査を実施できなかった場合は、"
    "未実施とし「測定不可能・検査未実施の理由」（9N512）に1または2を記録してください。",
    source=f"{ITEM_TABLE}（必須項目・いずれか必須の項目群、未実施の理由 9N512）",
)
ITEM_INPUT_RANGE = rule(
    "ITM_INPUT_RANGE", 1, ERROR, R.ABNORMAL_RESULT, "入力範囲外（入力最小値以下・入力最大値以上）の値にL/Hの表示がありません",
    "入力最小値以下の値はL（以下）、入力最大値以上の値はH（以上）を併記し、実測値も記録してください（範囲の境界の値も含みます）。",
    source=f"{PROGRAM}（入力最小値以下→L、入力最大値以上→H、実測値も併せて入力）、日医特定健診システム（ORCA）の入力範囲外の表示",
)
ITEM_BMI = rule(
    "ITM_BMI_INCONSISTENT", 1, ERROR, R.ABNORMAL_RESULT, "BMIが身長・体重から計算した値と一致しません",
    "BMI = 体重(kg) ÷ 身長(m)² を小数第1位に四捨五入した値にしてください。",
    source=f"{ITEM_TABLE}（BMI NN.N kg/m2）: BMI = 体重 ÷ 身長² を小数第1位に四捨五入",
)
ITEM_FASTING = rule(
    "ITM_FASTING_TIMING", 1, ERROR, R.ABNORMAL_RESULT, "空腹時・随時の検査項目と採血時間（食後）の区分が一致しません",
    "空腹時の中性脂肪・血糖は採血時間コード2（10時間以上）、随時の値はコード3または4で記録してください。",
    source=f"{ITEM_TABLE}の備考（空腹時は採血時間コード2、随時は3・4）",
)
ITEM_EGFR_MISSING = rule(
    "ITM_EGFR_MISSING", 1, ERROR, R.MISSING, "血清クレアチニンを実施した場合はeGFRが必要です",
    "詳細な健診で血清クレアチニンを実施した場合はeGFRも記録してください。",
    source=f"{ITEM_TABLE}の備考（血清クレアチニン実施時はeGFR必須）",
)
DETAIL_REASON_MISSING = rule(
    "ITM_DETAIL_REASON_MISSING", 1, ERROR, R.MISSING, "請求した詳細な健診に実施理由の記録がありません",
    "詳細な健診（貧血・心電図・眼底・血清クレアチニン）は、実施した項目の一連検査グループに実施理由（医師の判断の理由）を記録してください。",
    source=f"{ITEM_TABLE}（詳細な健診の一連検査グループ: 実施理由 RSON）、{PROGRAM}（詳細な健診は医師の判断による）",
)
DETAIL_NOT_PERFORMED = rule(
    "REC_DETAIL_NOT_PERFORMED", 1, ERROR, R.MISSING, "請求した詳細な健診の結果が健診結果ファイルにありません",
    "実施した詳細な健診だけを請求してください。実施した場合は結果（貧血: 血色素量等、心電図・眼底: 所見、血清クレアチニン: 値とeGFR）を記録してください。",
    source="決済情報の詳細な健診項目（unitPriceDetail、別表8）と特定健診情報の結果",
)
CHECKUP_AFTER_FILE_DATE = rule(
    "REC_CHECKUP_AFTER_FILE_DATE", 1, ERROR, R.FORMAT, "健診実施日がファイル作成日より後です",
    "健診実施日とファイル作成日を確認してください。",
    source="交換用基本情報の作成年月日と健診実施日",
)
CHECKUP_DATE_MISSING = rule(
    "REC_CHECKUP_DATE_MISSING", 1, ERROR, R.MISSING, "健診実施日がありません", "健診実施日を入力してください。",
    source="特定健診情報ファイル仕様: documentationOf/serviceEvent/effectiveTime",
)
PRICE_MISMATCH = rule(
    "REC_PRICE_MISMATCH", 1, ERROR, R.OTHER, "請求の単価が契約の単価と一致しません",
    "契約で定めた基本・詳細・追加項目・人間ドックの単価で請求してください。",
    source=f"{CONTRACTS}の単価（人間ドックの単価を含む）",
)
DOCK_NOT_CONTRACTED = rule(
    "REC_DOCK_NOT_CONTRACTED", 1, ERROR, R.NOT_CONTRACTED, "人間ドック（請求区分5）の単価が契約にありません",
    "人間ドックとして請求する場合は、保険者との契約に人間ドックの単価が必要です。契約を確認してください。",
    source=f"{CONTRACTS}（人間ドックの単価）",
)
COPAY_MISMATCH = rule(
    "REC_COPAY_MISMATCH", 1, ERROR, R.COPAY, "窓口負担額または請求額が受診券の負担条件による再計算と一致しません",
    "決済情報の受診券情報（窓口負担の区分・額・率・上限額）と契約の単価から、窓口負担額と請求額を再計算してください。",
    source=f"受診券の窓口負担（保険者の受診券データがない場合は決済情報の checkupCard）と{CLAIM_ARITHMETIC}。契約は単価のみを定める",
)
CLAIM_MISSING = rule(
    "REC_CLAIM_MISSING", 1, ERROR, R.MISSING, "決済情報ファイルがありません", "健診結果ファイルと対になる決済情報ファイルを含めてください。",
    source="送付用ファイルアーカイブ仕様（DATA と CLAIMS の 1対1）",
)
DUPLICATE_ACCEPTED = rule(
    "REC_DUPLICATE", 1, ERROR, R.OTHER, "同じ保険者番号・受診券整理番号・健診実施日の健診が既に受理されています",
    "再提出の場合は返戻された受付の訂正データとして送付してください。二重請求はできません。",
    source="二重請求の防止（保険者番号＋受診券整理番号＋健診実施日）",
)
TICKET_REUSED = rule(
    "REC_TICKET_REUSED", 1, ERROR, R.TICKET_NUMBER, "同じ保険者の受診券整理番号が別の受診者に使われています",
    "受診券整理番号を受診券で確認してください。",
    source="受診券整理番号は保険者ごとに受診者一人に発行される（OID表 …6.209）",
)
DUPLICATE_PERSON = rule(
    "REC_DUPLICATE_PERSON", 1, ERROR, R.OTHER, "同じ受診者・同じ健診実施日の健診が既に受理されています",
    "二重請求になっていないか確認してください。",
    source="二重請求の防止（受診者＋健診実施日）",
)
ONCE_PER_FISCAL_YEAR = rule(
    "REC_ONCE_PER_FISCAL_YEAR", 1, ERROR, R.OTHER, "同じ受診者の特定健診が同じ年度に既に受理されています（特定健診は年度に1回）",
    "同じ年度の2回目の特定健診は請求できません（他の健診機関・他の日を含みます）。受診者の保険者番号・記号・番号・枝番と"
    "受診券整理番号を確認してください。返戻・過誤となった健診の訂正は、その健診の訂正データとして送付してください。",
    source="特定健康診査及び特定保健指導の実施に関する基準（保険者は年度ごとに加入者に特定健康診査を行う）。"
    "受診者（保険者番号＋記号＋番号＋枝番）と受診券整理番号ごとに年度1件をデータベースの一意制約で保証",
)
QUESTIONNAIRE_DRINKING = rule(
    "QST_DRINKING_AMOUNT", 1, WARNING, R.ABNORMAL_RESULT, "飲酒が「飲まない（飲めない）」なのに飲酒量の回答があります",
    "質問票の飲酒（質問18）と飲酒量（質問19）の回答を確認してください。誤りでなければ確認済みとして受理できます。",
    source=f"{PROGRAM} 標準的な質問票 質問18・19（飲酒量は飲酒日の1日当たりの量）",
)
QUESTIONNAIRE_DEPENDENT = rule(
    "QST_DEPENDENT_ANSWER", 1, WARNING, R.ABNORMAL_RESULT, "「なし・いいえ」と回答した項目に付随する項目（薬剤名・具体的な既往歴・所見等）の記載があります",
    "服薬・既往歴・所見の有無と、その内容の記載が矛盾していないか確認してください。",
    source=f"{ITEM_TABLE}の依存対象項目（服薬の薬剤名・服薬理由、具体的な既往歴、所見）",
)
GUIDANCE_LEVEL_DIFFERS = rule(
    "QST_GUIDANCE_LEVEL_DIFFERS", 1, WARNING, R.ABNORMAL_RESULT,
    "報告された保健指導レベルが健診結果から再計算した階層化の結果と異なります",
    "腹囲・BMI・血糖・脂質・血圧・喫煙・服薬・年齢から階層化（第4期）をやり直し、保健指導レベル（9N506）を確認してください。"
    "誤りでなければ確認済みとして受理できます。",
    source=f"{PROGRAM}「保健指導対象者の選定と階層化」（ステップ1〜4）と保健指導レベル（9N506、OID 1.2.392.200119.6.3001）",
)
RESULTS_ONLY_NOT_CONTRACTED = rule(
    "REC_RESULTS_ONLY_NOT_CONTRACTED", 1, ERROR, R.NOT_CONTRACTED,
    "決済情報のない健診結果ですが、健診実施日に有効な「結果のみ」の契約（個別契約）がありません",
    "集合契約・決済ありの契約では決済情報ファイル（c…）と集計情報を含めて送付してください。結果のみの契約は保険者との契約を確認してください。",
    source=f"{CONTRACTS}（個別契約で結果のみを送付する場合は DATA と交換用基本情報だけ: 送付用ファイルアーカイブ仕様）",
)
OTHER_CHECKUP_NOT_ALLOWED = rule(
    "REC_OTHER_CHECKUP_NOT_ALLOWED", 1, ERROR, R.NOT_CONTRACTED,
    "事業者健診等（実施区分4）の結果を送付することを保険者が認めていません",
    "事業者に代わって健診結果を送付する場合は、保険者との契約で事業者健診等の送付が認められているか確認してください。",
    source=f"{CONTRACTS}（事業者健診等の結果の受領: 別表3 実施区分4 他の健診結果受領分）",
)
NOT_OWN_INSURED = rule(
    "REC_NOT_OWN_INSURED", 1, ERROR, R.OTHER,
    "送付した保険者の被保険者の健診結果ではありません（保険者番号が異なります）",
    "保険者が送付できるのは自らの被保険者（加入者）の事業者健診等の結果だけです。"
    "他の保険者の加入者の結果は、その保険者へ送付してください。保険者番号に誤りがあれば訂正して再送してください。",
    source="高齢者の医療の確保に関する法律 第27条（保険者は加入者の事業者健診等の結果を受領）・別表3 実施区分4",
)
MEDICATED_GUIDANCE = rule(
    "QST_MEDICATED_GUIDANCE_LEVEL", 1, WARNING, R.ABNORMAL_RESULT, "服薬中（質問票）なのに保健指導レベルが積極的支援・動機付け支援です",
    "血圧・血糖・脂質の服薬中の者は特定保健指導の対象としません。質問票の服薬と保健指導レベルを確認してください。",
    source=f"{PROGRAM}「保健指導対象者の選定と階層化」（服薬中の者は特定保健指導の対象としない）",
)


@dataclass
class References:
    """Reference data for one archive's records: insurers and contracts loaded once per insurer
    number met, the 受診券 of each batch (a fixed number of queries per batch)."""

    institution: Any
    file_date: dt.date | None
    sender_insurer: Insurer | None = None  # an insurer's own upload of its 被保険者' 事業者健診等
    insurers: dict[str, Insurer | None] = field(default_factory=dict)
    contracts: dict[tuple[str, int], list[Contract]] = field(default_factory=dict)  # pair contracts (results only, guidance)
    book: ContractBook | None = None  # the institution's pair and collective contracts (agency.contracts)
    tickets: tickets.TicketLookup | None = None  # the 受診券 uploaded by the batch's insurers
    terms: dict[int, copay.ContractTerms] = field(default_factory=dict)  # by contract, built once
    guidance_parts: dict[tuple[str, str], dict[str, bool]] = field(default_factory=dict)  # 利用券 → accepted 実施時点
    checkup_levels: dict[tuple[str, int | None], str] = field(default_factory=dict)  # (person, 年度) → 保健指導レベル
    guidance_ticket_insurers: set[str] = field(default_factory=set)  # insurers that uploaded 利用券 data
    guidance_tickets: dict[tuple[str, str], EligibilityTicket] = field(default_factory=dict)  # (保険者番号, 利用券) → 利用券

    @classmethod
    def for_archive(cls, reading: ArchiveReading, submission: Submission) -> References:
        index, name = reading.index, reading.archive_name
        file_date = index.created_on if index else (name.submitted_on if name else None)
        # An insurer's own upload has no institution, hence no institution's contracts to choose from.
        book = ContractBook(submission.institution) if submission.institution is not None else None
        return cls(submission.institution, file_date, submission.insurer, book=book)

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
            if self.book is not None:  # None for an insurer's own upload (no institution)
                self.book.load(number for number in numbers if found.get(number) is not None)
        self.tickets = tickets.tickets_for([p for p in pending if p.record.kind != RecordKind.GUIDANCE])
        load_guidance_references(self, pending)


def contract_terms(contract: Contract) -> copay.ContractTerms:
    """The contract's prices in the terms the claim arithmetic takes (no copay: that is the 受診券's)."""
    return copay.terms_from_contract(contract)


def _copay_terms(claim: Claim, prices: copay.ContractTerms, ticket: EligibilityTicket | None) -> copay.ContractTerms:
    """The contract's prices with the person's 窓口負担 from one source: the insurer's ticket data
    when there is a ticket, otherwise the claim's own checkupCard (a dock's copay is always the
    claim's). Raises ValueError for copay codes outside 別表6 (reported by the format checks)."""
    charges = claim.charges
    if ticket is not None:
        rules = tickets.copay_rules(ticket)
        basic, detail, other = rules["basic"], rules["detail"], rules["other"]
    else:
        basic, detail, other = (copay.rule_from_charge(c) for c in (charges.basic, charges.detail, charges.other))
    return replace(
        prices, basic_copay=basic, detail_copay=detail, other_copay=other, dock_copay=copay.dock_rule_from_charge(charges.dock)
    )


def _claim_findings(pending: PendingRecord, prices: copay.ContractTerms, ticket: EligibilityTicket | None) -> list[Finding]:
    claim = pending.claim
    if claim is None:
        return []
    path = pending.record.claim_path
    if claim.settlement.claim_type == ClaimType.HUMAN_DOCK.value and prices.dock_price is None:
        return [DOCK_NOT_CONTRACTED.at(file=path, xpath="/checkupClaim/settlement/claimType")]
    try:
        terms = _copay_terms(claim, prices, ticket if claim.settlement.claim_type != ClaimType.HUMAN_DOCK.value else None)
    except ValueError:
        return []  # copay codes outside 別表6: DOC_CODE_INVALID says so
    differences = standard_rules.copay_differences(claim, terms)
    if any(name.startswith("unit_price") or "not priced" in name for name in differences):
        return [PRICE_MISMATCH.at(file=path, xpath="/checkupClaim/settlement", detail=", ".join(differences))]
    if differences:
        kind = tickets.COPAY_MISMATCH if ticket is not None else COPAY_MISMATCH
        return [kind.at(file=path, xpath="/checkupClaim/checkupCard", detail=", ".join(differences))]
    return []


def _item_findings(pending: PendingRecord, path: str) -> list[Finding]:
    document = pending.checkup
    if document is None:
        return []
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
    billed = standard_rules.billed_detail_items(pending.claim) if pending.claim is not None else set()
    if billed:
        performed = standard_rules.detail_items_performed(document, master)
        if not_performed := billed - performed:
            found.append(DETAIL_NOT_PERFORMED.at(
                file=pending.record.claim_path or path, xpath="/checkupClaim/settlement/unitPriceDetail",
                detail="・".join(DETAIL_LABELS[item] for item in sorted(not_performed)),
            ))
        if without_reason := standard_rules.detail_reasons_missing(document, master, performed & billed):
            found.append(DETAIL_REASON_MISSING.at(
                file=path, xpath="//entryRelationship[@typeCode='RSON']",
                detail="・".join(DETAIL_LABELS[item] for item in sorted(without_reason)),
            ))
    for code, detail in standard_rules.questionnaire_inconsistencies(document, master):
        kind = QUESTIONNAIRE_DRINKING if code == standard_rules.DRINKING_AMOUNT else QUESTIONNAIRE_DEPENDENT
        found.append(kind.at(file=path, xpath=f"//observation[code/@code='{code}']", detail=detail))
    medicated = standard_rules.medicated_with_guidance_level(document)
    if medicated:
        found.append(MEDICATED_GUIDANCE.at(
            file=path, xpath=f"//observation[code/@code='{standard_rules.GUIDANCE_LEVEL}']", detail=", ".join(medicated)
        ))
    return found


def _stratify(pending: PendingRecord, path: str) -> list[Finding]:
    """Recompute the 保健指導レベル (kept on the record with the rule version and the reasons) and warn,
    naming both, when the reported one (9N506) differs."""
    record, document = pending.record, pending.checkup
    if document is None or record.checkup_date is None:
        return []
    birth = record.birth_date
    age = standard_rules.age_on(birth, standard_rules.fiscal_year_end(record.checkup_date)) if birth else None
    result = stratification.stratify(stratification.measurements(document, age))
    record.stratified_level = result.level.value
    record.stratification_rule = result.rule_version
    record.stratification_reasons = "\n".join(result.reasons)
    reported = stratification.reported_level(document)
    if reported is None or reported is result.level:
        return []
    detail = f"報告 {reported.value} {reported.label}・再計算 {result.level.value} {result.level.label}（{'、'.join(result.reasons)}）"
    return [GUIDANCE_LEVEL_DIFFERS.at(
        file=path, xpath=f"//observation[code/@code='{standard_rules.GUIDANCE_LEVEL}']", detail=detail
    )]


DETAIL_LABELS = {DetailItem.ANEMIA: "貧血", DetailItem.ECG: "心電図", DetailItem.FUNDUS: "眼底", DetailItem.CREATININE: "血清クレアチニン"}


def _ticket_format(record: Record, contract: AppliedContract | Contract | None) -> list[Finding]:
    """A 受診券整理番号 of 11 digits; none at all is fine under a contract that issues no tickets."""
    number = record.ticket_number
    if not number and contract is not None and not contract.issues_tickets:
        return []
    if number.isascii() and number.isdigit() and len(number) == 11:
        return []
    return [TICKET_INVALID.at(file=record.data_path, xpath="//participant/associatedEntity/id/@extension", detail=number or "なし")]


def _insurer_of(record: Record, refs: References, path: str) -> tuple[Insurer | None, list[Finding]]:
    """The record's insurer when its number is valid and contracted (the reader reports a bad number)."""
    if not is_valid_insurer_number(record.insurer_number):
        return None, []
    insurer = refs.insurers.get(record.insurer_number)
    if insurer is None:
        return None, [INSURER_UNKNOWN.at(file=path, xpath="//recordTarget/patientRole/id", detail=record.insurer_number)]
    record.insurer = insurer
    return insurer, []


def _guidance_record_findings(pending: PendingRecord, refs: References) -> list[Finding]:
    record = pending.record
    insurer, found = _insurer_of(record, refs, record.data_path)
    if insurer is None:
        return found
    return found + guidance_findings(pending, refs)


def _contract_allowing(refs: References, insurer: Insurer, day: dt.date, flag: str) -> Contract | None:
    """A contract valid on ``day`` (any 単価区分) that says ``flag`` (results only, 事業者健診等)."""
    for (number, _commission), contracts in refs.contracts.items():
        if number != insurer.number:
            continue
        for contract in contracts:
            if contract.is_valid_on(day) and getattr(contract, flag):
                return contract
    return None


def record_findings(pending: PendingRecord, refs: References) -> list[Finding]:
    """The agency's per-record rules (level 1)."""
    record = pending.record
    if record.kind == RecordKind.GUIDANCE:
        return _guidance_record_findings(pending, refs)
    path = record.data_path
    without_claims = record.kind in (RecordKind.RESULTS_ONLY, RecordKind.OTHER_CHECKUP)
    found: list[Finding] = []
    if pending.claim is None and not without_claims:
        found.append(CLAIM_MISSING.at(file=path))
    day = record.checkup_date
    if day is None:
        found.append(CHECKUP_DATE_MISSING.at(file=path, xpath="//documentationOf/serviceEvent/effectiveTime/@value"))
        return found + _ticket_format(record, None)
    ticket = pending.checkup.ticket if pending.checkup else None
    expires = (ticket.expires_on if ticket else None) or (pending.claim.ticket_expires_on if pending.claim else None)
    if expires is not None and expires < day:
        found.append(TICKET_EXPIRED.at(file=path, xpath="//participant/time/high/@value", detail=f"{expires:%Y-%m-%d}"))
    if refs.file_date is not None and day > refs.file_date:
        found.append(CHECKUP_AFTER_FILE_DATE.at(file=path, xpath="//documentationOf/serviceEvent/effectiveTime/@value"))
    if record.birth_date is not None and not standard_rules.age_eligible(record.birth_date, day):
        age = standard_rules.age_on(record.birth_date, standard_rules.fiscal_year_end(day))
        found.append(AGE_OUT_OF_RANGE.at(file=path, xpath="//patient/birthTime/@value", detail=f"年度末 {age}歳"))
    found += _item_findings(pending, path)
    found += _stratify(pending, path)
    insurer, unknown = _insurer_of(record, refs, path)
    found += unknown
    if insurer is None:
        return found + _ticket_format(record, None)
    if refs.sender_insurer is not None:
        # The insurer's own upload: its own 被保険者 only, under no institution's contract.
        if insurer.pk != refs.sender_insurer.pk:
            record.insurer = None  # never shown to the other insurer: returned to the sender
            found.append(NOT_OWN_INSURED.at(
                file=path, xpath="//recordTarget/patientRole/id",
                detail=f"レコードの保険者番号 {insurer.number}・送付した保険者 {refs.sender_insurer.number}",
            ))
        return found
    if without_claims:
        flag, refusal = (
            ("results_only", RESULTS_ONLY_NOT_CONTRACTED) if record.kind == RecordKind.RESULTS_ONLY
            else ("other_checkups", OTHER_CHECKUP_NOT_ALLOWED)
        )
        allowing = _contract_allowing(refs, insurer, day, flag)
        if allowing is None:
            found.append(refusal.at(file=path, detail=f"保険者 {insurer.number}・健診実施日 {day:%Y-%m-%d}"))
        if record.kind == RecordKind.OTHER_CHECKUP:
            return found  # 事業者健診等: no 受診券 of the insurer's
        return found + _ticket_format(record, allowing)
    commission = int(pending.claim.settlement.commission_type) if pending.claim and pending.claim.settlement.commission_type.isdigit() else None
    assert refs.book is not None  # noqa: S101 - for_archive sets it
    contract = refs.book.select(insurer.number, commission, day)
    if contract is not None:
        record.contract, record.collective_price_table = contract.pair, contract.table
    found += _ticket_format(record, contract)
    uploaded: EligibilityTicket | None = None
    if record.ticket_number or contract is None or contract.issues_tickets:
        ticket_found, uploaded = tickets.ticket_findings(pending, refs.tickets)  # only for insurers that uploaded tickets
        found += ticket_found
    if contract is None:
        if pending.claim is not None:
            found.append(NO_CONTRACT.at(file=path, detail=refs.book.explain_none(insurer.number, commission, day)))
        return found
    found += _claim_findings(pending, refs.book.terms_of(contract), uploaded)
    return found


def _person(record: Record) -> tuple[Any, ...]:
    return (record.insurer_number, record.card_symbol, record.card_number, record.card_branch, record.birth_date)


DUPLICATE_FIELDS = (
    "pk", "submission_id", "data_path", "insurer_number", "ticket_number", "checkup_date", "fiscal_year", "person_key",
    "card_symbol", "card_number", "card_branch", "birth_date", "kind", "guidance_level", "guidance_timing",
)
"""The columns `duplicate_findings` reads of the records it decides."""


def duplicate_findings(records: Sequence[Record], blocked: AbstractSet[int] = frozenset()) -> dict[int, list[Finding]]:
    """Records that would count a checkup twice, against everything accepted so far and earlier
    records of the same batch: the same business key (保険者番号 + 受診券整理番号 + 健診実施日), the
    same person on the same day, one ticket used by two people, or a second 特定健診 of the same
    person — or on the same 受診券 — in the same 年度. Guidance records are checked as guidance
    (``guidance.guidance_duplicates``); a checkup, results only and 事業者健診等 all count as the
    person's checkup of the 年度."""
    found = guidance_duplicates(records, blocked)
    records = [r for r in records if r.kind != RecordKind.GUIDANCE]
    if not records:
        return found
    tickets = {(r.insurer_number, r.ticket_number) for r in records if r.ticket_number}
    people = {(*_person(r), r.checkup_date) for r in records}
    accepted = Record.objects.filter(
        status=RecordStatus.ACCEPTED, kind__in=CHECKUP_KINDS, insurer_number__in={r.insurer_number for r in records}
    )
    person_fields = ("insurer_number", "card_symbol", "card_number", "card_branch", "birth_date")
    ticket_holders: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
    seen_keys: set[tuple[Any, ...]] = set()
    years: dict[tuple[Any, ...], dt.date | None] = {}  # (person_key, 年度) or (保険者番号, 受診券, 年度) → the checkup date
    wanted_years = {r.fiscal_year for r in records if r.fiscal_year is not None}
    # Indexed IN-lists select a superset; the exact pairs are matched here.
    for row in accepted.filter(ticket_number__in={t for _, t in tickets}).exclude(ticket_number="").values_list(
        "ticket_number", "checkup_date", "fiscal_year", *person_fields
    ):
        ticket, day, year, person = row[0], row[1], row[2], row[3:]
        if (person[0], ticket) in tickets:
            ticket_holders.setdefault((person[0], ticket), set()).add(person)
            seen_keys.add((person[0], ticket, day))
            if year is not None:
                years.setdefault(("ticket", person[0], ticket, year), day)
    if wanted_years:
        # The conditions of the partial unique index, spelled out so that it serves the query.
        for who, year, day in accepted.filter(
            person_key__in={r.person_key for r in records if r.person_key}, fiscal_year__in=wanted_years
        ).exclude(person_key="").values_list("person_key", "fiscal_year", "checkup_date"):
            years.setdefault(("person", who, year), day)
    seen_people = {
        row
        for row in accepted.filter(card_number__in={r.card_number for r in records}).values_list(*person_fields, "checkup_date")
        if row in people
    }
    for record in records:
        key = (record.insurer_number, record.ticket_number, record.checkup_date)
        person = _person(record)
        holders = ticket_holders.setdefault((record.insurer_number, record.ticket_number), set())
        year_keys = _year_keys(record)
        repeated = next((k for k in year_keys if k in years), None)
        if record.ticket_number and key in seen_keys:
            found.setdefault(record.pk, []).append(DUPLICATE_ACCEPTED.at(file=record.data_path))
        elif (*person, record.checkup_date) in seen_people:
            found.setdefault(record.pk, []).append(DUPLICATE_PERSON.at(file=record.data_path))
        elif record.ticket_number and holders - {person}:
            found.setdefault(record.pk, []).append(TICKET_REUSED.at(file=record.data_path, detail=record.ticket_number))
        elif repeated is not None:
            which = "受診者" if repeated[0] == "person" else "受診券整理番号"
            earlier = years[repeated]
            detail = f"{record.fiscal_year}年度・同じ{which}" + (f"・受理済みの健診実施日 {earlier:%Y-%m-%d}" if earlier else "")
            found.setdefault(record.pk, []).append(ONCE_PER_FISCAL_YEAR.at(file=record.data_path, detail=detail))
        if record.pk in blocked or record.pk in found:
            continue  # a returned record claims nothing
        seen_keys.add(key)
        seen_people.add((*person, record.checkup_date))
        for year_key in year_keys:
            years.setdefault(year_key, record.checkup_date)
        if record.ticket_number:
            holders.add(person)
    return found


def _year_keys(record: Record) -> list[tuple[Any, ...]]:
    """The once-per-年度 keys of a record: its person's, then its 受診券's (none without a 年度)."""
    if record.fiscal_year is None:
        return []
    keys: list[tuple[Any, ...]] = []
    if record.person_key:
        keys.append(("person", record.person_key, record.fiscal_year))
    if record.ticket_number:
        keys.append(("ticket", record.insurer_number, record.ticket_number, record.fiscal_year))
    return keys


def blocking(findings: Iterable[Finding]) -> bool:
    return any(f.severity in (Severity.ERROR, Severity.FATAL) for f in findings)
