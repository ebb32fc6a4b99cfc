"""Level 0: this agency's checks of the archive as a whole (who sent it to whom, the 種別), and which
findings reject the whole archive."""

from __future__ import annotations

from agency.models import AgencyProfile
from kenshin.codes import (
    OID_AGENCY,
    OID_INSTITUTION,
    OID_INSURER,
    SERVICE_CHECKUP,
    SERVICE_GUIDANCE,
    SERVICE_OTHER_CHECKUP,
)
from kenshin.findings import Finding, Severity
from kenshin.reader import ArchiveReading, ReadResult

from ..models import Submission
from .catalogue import ERROR, R, is_archive_code, rule

ARCHIVE_SENDER_MISMATCH = rule(
    "AGY_SENDER_MISMATCH", 0, ERROR, R.FORMAT, "送付元がアップロードした健診機関と一致しません",
    "アーカイブ名と交換用基本情報の送付元に自機関の機関番号（10桁）を設定してください。",
    source="送付用ファイルアーカイブ仕様（提出元機関番号）・交換用基本情報（送付元）と受付経路の認証",
)
ARCHIVE_RECEIVER_MISMATCH = rule(
    "AGY_RECEIVER_MISMATCH", 0, ERROR, R.FORMAT, "送付先が当代行機関ではありません",
    "送付先には当代行機関の代行機関番号（OID …6.103）を設定してください。",
    source="交換用基本情報（送付先、OID …6.103 代行機関番号）",
)
ARCHIVE_INTERACTION_TYPE = rule(
    "AGY_INTERACTION_TYPE", 0, ERROR, R.FORMAT, "種別コードが「健診機関→代行機関（1）」ではありません",
    "交換用基本情報の種別コードを 1 にしてください。",
    source="別表1 種別コード（1 特定健診機関→代行機関）",
)


SERVICE_NOT_ACCEPTED = rule(
    "AGY_SERVICE_NOT_ACCEPTED", 0, ERROR, R.NOT_CONTRACTED, "この実施区分のデータは当代行機関では受け付けていません",
    "健診機関・保健指導機関から受け付けるのは実施区分 1（特定健診）・2（特定保健指導）・4（事業者健診等の他の健診結果）です。"
    "国への報告（実施区分3・5）は支払基金へ送付してください。",
    source="別表3 実施区分（1 特定健診情報・2 特定保健指導情報・3 国への実施結果報告・4 他の健診結果受領分・5 国への実績報告）",
)
NOTHING_TO_CHECK = rule(
    "AGY_NOTHING_TO_CHECK", 0, ERROR, R.MISSING, "点検できる健診・保健指導のデータがありません",
    "DATAフォルダの健診結果（h…）・保健指導（g…）ファイルが読み取れる形式か、実施区分とファイルの種類が一致しているか確認してください。",
    source="送付用ファイルアーカイブ仕様（DATA フォルダの健診・保健指導情報ファイル）",
)
ACCEPTED_SERVICES = frozenset({SERVICE_CHECKUP, SERVICE_GUIDANCE, SERVICE_OTHER_CHECKUP})
INSURER_SERVICE_NOT_ACCEPTED = rule(
    "AGY_INSURER_SERVICE", 0, ERROR, R.NOT_CONTRACTED, "保険者から受け付けるのは事業者健診等の結果（実施区分4）だけです",
    "保険者が自ら送付できるのは、事業主等から受領した自らの被保険者の健診結果（他の健診結果受領分、実施区分4）です。"
    "アーカイブ名と交換用基本情報の実施区分を 4 にしてください。",
    source="別表3 実施区分（4 他の健診結果受領分）・高齢者の医療の確保に関する法律 第27条（事業者健診等の結果の受領）",
)
INSURER_SENDER_MISMATCH = rule(
    "AGY_INSURER_SENDER_MISMATCH", 0, ERROR, R.FORMAT, "送付元がアップロードした保険者と一致しません",
    "アーカイブ名と交換用基本情報の送付元に自保険者の保険者番号（8桁、OID …6.101）を設定してください。",
    source="送付用ファイルアーカイブ仕様（提出元機関番号）・交換用基本情報（送付元 OID …6.101 保険者番号）",
)
INSURER_INTERACTION_TYPE = rule(
    "AGY_INSURER_INTERACTION_TYPE", 0, ERROR, R.FORMAT, "種別コードが「保険者→代行機関（4・5）」ではありません",
    "交換用基本情報の種別コードを 4（保険者→代行機関）にしてください。",
    source="別表1 種別コード（4・5 保険者→代行機関）",
)
INSURER_INTERACTION_TYPES = frozenset({"4", "5"})


def _insurer_archive_findings(result: ArchiveReading | ReadResult, submission: Submission, service: str | None) -> list[Finding]:
    """An insurer's own upload: 実施区分 4 only, sent under its own 保険者番号 (種別 4・5, OID …6.101)."""
    found: list[Finding] = []
    if service is not None and service != SERVICE_OTHER_CHECKUP:
        found.append(INSURER_SERVICE_NOT_ACCEPTED.at(file=submission.file_name, detail=f"実施区分 {service}"))
    number = submission.sender_number
    name = result.archive_name
    if name is not None and name.sender.lstrip("0") != number.lstrip("0"):
        found.append(INSURER_SENDER_MISMATCH.at(
            file=submission.file_name, detail=f"アーカイブ名の提出元 {name.sender}・送付した保険者 {number}"
        ))
    index = result.index
    if index is not None:
        if index.interaction_type not in INSURER_INTERACTION_TYPES:
            found.append(INSURER_INTERACTION_TYPE.at(file="ix08_V08.xml", xpath="/index/interactionType/@code"))
        if index.sender.root != OID_INSURER or index.sender.extension.lstrip("0") != number.lstrip("0"):
            found.append(INSURER_SENDER_MISMATCH.at(
                file="ix08_V08.xml", xpath="/index/sender/id/@extension",
                detail=f"交換用基本情報の送付元 {index.sender.extension}・送付した保険者 {number}",
            ))
    return found


def archive_findings(result: ArchiveReading | ReadResult, submission: Submission) -> list[Finding]:
    """This agency's checks of who sent the archive to whom, and what it holds (実施区分)."""
    found: list[Finding] = []
    service = result.index.service_event_type if result.index else (result.archive_name.service_event_type if result.archive_name else None)
    if service is not None and service not in ACCEPTED_SERVICES:
        found.append(SERVICE_NOT_ACCEPTED.at(file=submission.file_name, detail=f"実施区分 {service}"))
    if submission.sent_by_insurer:
        found += _insurer_archive_findings(result, submission, service)
    institution = submission.sender_number
    agency = AgencyProfile.objects.values_list("agency_code", flat=True).first()
    name = result.archive_name
    if name is not None and name.sender != institution and not submission.sent_by_insurer:
        found.append(ARCHIVE_SENDER_MISMATCH.at(
            file=submission.file_name, detail=f"アーカイブ名の提出元 {name.sender}・送付した健診機関 {institution}"
        ))
    if name is not None and agency and name.receiver.lstrip("0") != agency.lstrip("0"):
        found.append(ARCHIVE_RECEIVER_MISMATCH.at(
            file=submission.file_name, detail=f"アーカイブ名の提出先 {name.receiver}・当代行機関 {agency}"
        ))
    index = result.index
    if index is not None:
        if index.interaction_type != "1" and not submission.sent_by_insurer:
            found.append(ARCHIVE_INTERACTION_TYPE.at(file="ix08_V08.xml", xpath="/index/interactionType/@code"))
        if index.sender.root == OID_INSTITUTION and index.sender.extension != institution:
            found.append(ARCHIVE_SENDER_MISMATCH.at(
                file="ix08_V08.xml", xpath="/index/sender/id/@extension",
                detail=f"交換用基本情報の送付元 {index.sender.extension}・送付した健診機関 {institution}",
            ))
        receiver = index.receiver
        if receiver is not None and agency and (receiver.root != OID_AGENCY or receiver.extension.lstrip("0") != agency.lstrip("0")):
            found.append(ARCHIVE_RECEIVER_MISMATCH.at(
                file="ix08_V08.xml", xpath="/index/receiver/id", detail=f"{receiver.extension}・当代行機関 {agency}",
            ))
    return found


def blocks_archive(finding: Finding, record_files: set[str]) -> bool:
    """A blocking finding rejects the archive unless it concerns one record's own file."""
    if finding.severity is Severity.FATAL:
        return True
    if finding.severity is not Severity.ERROR:
        return False
    return is_archive_code(finding.code) or not finding.file or finding.file not in record_files
