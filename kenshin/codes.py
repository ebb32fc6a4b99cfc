"""Namespaces, OIDs and code tables (別表) of the standard format.

Values follow the 第4期 XSDs (co08_V08.xsd) and the MHLW OID table as summarised in the project's
domain specification. Code tables that the XSD enumerates but whose meaning is unconfirmed
(種別 14–20, 実施区分 6–9) are accepted as codes without a label.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Namespace(StrEnum):
    """The namespace of the ix08/su08/cc08/gc08 files; it changed with 第4期 (2024)."""

    CHECKUP_2007 = "http://tokuteikenshin.jp/checkup/2007"
    MHLW_2024 = "https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000161103.html"

    @property
    def label(self) -> str:
        return "第1期〜第3期 (2007)" if self is Namespace.CHECKUP_2007 else "第4期 (2024)"


HL7_NS: Final = "urn:hl7-org:v3"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"

# Party identifiers
OID_INSURER: Final = "1.2.392.200119.6.101"
OID_INSTITUTION: Final = "1.2.392.200119.6.102"
OID_AGENCY: Final = "1.2.392.200119.6.103"
OID_LOCAL_GOVERNMENT: Final = "1.2.392.200119.6.105"
OID_CARD_SYMBOL: Final = "1.2.392.200119.6.204"
OID_CARD_NUMBER: Final = "1.2.392.200119.6.205"
OID_CARD_BRANCH: Final = "1.2.392.200119.6.211"
OID_TICKET_KIND: Final = "1.2.392.200119.6.208"
OID_CHECKUP_TICKET: Final = "1.2.392.200119.6.209"
OID_GUIDANCE_TICKET: Final = "1.2.392.200119.6.210"

# Code systems used inside the CDA documents
OID_REPORT_CATEGORY: Final = "1.2.392.200119.6.1001"
OID_PROGRAM: Final = "1.2.392.200119.6.1002"
OID_CHECKUP_ITEM: Final = "1.2.392.200119.6.1005"
OID_GUIDANCE_ITEM: Final = "1.2.392.200119.6.1006"
OID_METHOD: Final = "1.2.392.200119.6.1007"
OID_SECTION: Final = "1.2.392.200119.6.1010"
OID_SEX: Final = "1.2.392.200119.6.1104"
OID_INPUT_RANGE_FLAG: Final = "2.16.840.1.113883.5.83"
OID_CONFIDENTIALITY: Final = "2.16.840.1.113883.5.25"
CDA_TYPE_ID_ROOT: Final = "2.16.840.1.113883.1.3"
CDA_TYPE_ID_EXTENSION: Final = "POCD_HD000040"

REPORT_CHECKUP: Final = "10"
PROGRAM_SPECIFIC_CHECKUP: Final = "010"
SECTION_CHECKUP: Final = "01010"
SECTION_ADDITIONAL: Final = "01990"
SECTION_GUIDANCE_COMMON: Final = "90010"

SEX_MALE: Final = "1"
SEX_FEMALE: Final = "2"
SEX_CODES: Final = frozenset({SEX_MALE, SEX_FEMALE})
TICKET_KIND_CHECKUP: Final = "1"  # 券面種別 (.208): 1 受診券, 2 利用券
TICKET_KINDS: Final = frozenset({TICKET_KIND_CHECKUP, "2"})

# 報告区分 (OID .1001), as listed in the MHLW OID table (SPEC §10).
REPORT_CATEGORIES: Final = MappingProxyType(
    {
        "10": "特定健診情報",
        "19": "提出済み健診情報の削除依頼",
        "21": "特定保健指導情報（開始時）",
        "22": "特定保健指導情報（実績評価時）",
        "23": "特定保健指導情報（途中終了時）",
        "24": "特定保健指導情報（その他）",
        "25": "特定保健指導情報（初回未完了）",
        "30": "国への実施結果報告",
        "40": "特定健診以外の健診結果",
        "90": "そのほか",
    }
)
# 健診プログラムサービスコード (プログラム種別, OID .1002).
PROGRAM_CODES: Final = MappingProxyType(
    {
        "000": "不明",
        "010": "特定健康診査",
        "020": "広域連合の保健事業",
        "030": "事業者健診",
        "040": "学校健診",
        "060": "がん検診",
        "070": "保険者以外が行う特定健診等に相当する健診",
        "080": "保険者が実施する特定健診等以外の健診",
        "090": "肝炎検診",
        "990": "その他",
    }
)
# CDA セクションコード (OID .1010) of a checkup document.
CHECKUP_SECTION_CODES: Final = MappingProxyType(
    {
        "01010": "特定健診・問診結果",
        "01020": "広域連合保健事業",
        "01030": "労働安全衛生法健診",
        "01040": "学校保健安全法健診",
        "01060": "がん検診",
        "01090": "肝炎検診",
        "01990": "任意追加項目",
    }
)


def ticket_root_in_document(base_oid: str, insurer_number: str) -> str:
    """In a CDA file the ticket OID carries "1" + the 8-digit insurer number (…209.1<insurer>)."""
    return f"{base_oid}.1{insurer_number}"


# 別表1 種別コード: meaning and the (sender, receiver) OIDs that go with each code.
INTERACTION_TYPES: Final = MappingProxyType(
    {
        "1": ("特定健診機関又は特定保健指導機関から代行機関", OID_INSTITUTION, OID_AGENCY),
        "2": ("代行機関から特定健診機関又は特定保健指導機関", OID_AGENCY, OID_INSTITUTION),
        "3": ("代行機関から保険者", OID_AGENCY, OID_INSURER),
        "4": ("保険者から代行機関（未決済データ）", OID_INSURER, OID_AGENCY),
        "5": ("保険者から代行機関（決済済データ）", OID_INSURER, OID_AGENCY),
        "6": ("特定健診機関又は特定保健指導機関から保険者", OID_INSTITUTION, OID_INSURER),
        "7": ("保険者から特定健診機関又は特定保健指導機関", OID_INSURER, OID_INSTITUTION),
        "8": ("保険者から保険者", OID_INSURER, OID_INSURER),
        "11": ("代行機関から保険者への確認依頼", OID_AGENCY, OID_INSURER),
    }
)

# 別表3 実施区分
SERVICE_EVENT_TYPES: Final = MappingProxyType(
    {
        "1": "特定健診情報",
        "2": "特定保健指導情報",
        "3": "国への実施結果報告（匿名化済）",
        "4": "他の健診結果受領分",
        "5": "国への実績報告（匿名化前）",
    }
)
SERVICE_CHECKUP: Final = "1"
SERVICE_GUIDANCE: Final = "2"
SERVICE_OTHER_CHECKUP: Final = "4"  # 他の健診結果受領分 (事業者健診等)


class ReturnReason(StrEnum):
    """別表9 返戻理由コード (OID 1.2.392.200119.6.1109)."""

    FORMAT = "01"
    MISSING = "02"
    ABNORMAL_RESULT = "03"
    NOT_CONTRACTED = "04"
    TICKET_NUMBER = "05"
    EXPIRED = "06"
    COPAY = "07"
    WITHDRAWAL = "08"
    OTHER = "09"

    @property
    def label(self) -> str:
        return _RETURN_REASON_LABELS[self]


_RETURN_REASON_LABELS: Final = MappingProxyType(
    {
        ReturnReason.FORMAT: "記録形式不備",
        ReturnReason.MISSING: "記録もれ",
        ReturnReason.ABNORMAL_RESULT: "健診結果異常",
        ReturnReason.NOT_CONTRACTED: "契約対象外",
        ReturnReason.TICKET_NUMBER: "整理番号不備",
        ReturnReason.EXPIRED: "有効期限外",
        ReturnReason.COPAY: "窓口負担金額不備",
        ReturnReason.WITHDRAWAL: "取下げ依頼",
        ReturnReason.OTHER: "その他",
    }
)


class CopayCode(StrEnum):
    """別表6 窓口負担コード."""

    NONE = "1"
    FIXED = "2"
    RATE = "3"
    INSURER_CAP = "4"


class ClaimType(StrEnum):
    """別表7 請求区分."""

    BASIC = "1"
    BASIC_DETAIL = "2"
    BASIC_OTHER = "3"
    BASIC_DETAIL_OTHER = "4"
    HUMAN_DOCK = "5"


class DetailItem(StrEnum):
    """別表8 詳細な健診項目コード."""

    ANEMIA = "1"
    ECG = "2"
    FUNDUS = "3"
    CREATININE = "4"


class CommissionType(StrEnum):
    """別表15 委託料単価区分."""

    INDIVIDUAL = "1"
    GROUP = "2"


RATE_SCALE: Final = 100_000
"""負担率 is written as six digits worth percent × 1000, so 100 % = 100000."""
