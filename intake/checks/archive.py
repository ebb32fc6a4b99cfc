"""Level 0: this agency's checks of the archive as a whole (who sent it to whom, the 種別), and which
findings reject the whole archive."""

from __future__ import annotations

from agency.models import AgencyProfile
from kenshin.codes import OID_AGENCY, OID_INSTITUTION
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


def archive_findings(result: ArchiveReading | ReadResult, submission: Submission) -> list[Finding]:
    """This agency's checks of who sent the archive to whom."""
    found: list[Finding] = []
    institution = submission.institution.number
    agency = AgencyProfile.objects.values_list("agency_code", flat=True).first()
    name = result.archive_name
    if name is not None and name.sender != institution:
        found.append(ARCHIVE_SENDER_MISMATCH.at(
            file=submission.file_name, detail=f"アーカイブ名の提出元 {name.sender}・送付した健診機関 {institution}"
        ))
    if name is not None and agency and name.receiver.lstrip("0") != agency.lstrip("0"):
        found.append(ARCHIVE_RECEIVER_MISMATCH.at(
            file=submission.file_name, detail=f"アーカイブ名の提出先 {name.receiver}・当代行機関 {agency}"
        ))
    index = result.index
    if index is not None:
        if index.interaction_type != "1":
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
