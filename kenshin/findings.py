"""Coded findings of the reader.

Every defect the reader detects becomes a `Finding`: a stable code from the registry below, a
severity, the file and XPath it concerns, and a Japanese message. Each code maps to the 別表9
返戻理由コード used when the record is returned to the institution.

The reader only reports structural and format defects (archive, XML, schema, cross-file
consistency, check digits). Business rules that need the agency's data (contracts, tickets,
duplicates, eligibility, item ranges) belong to the intake rule engine; see `rules.py` for the
pure helpers it can build on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from kenshin.codes import ReturnReason


class Severity(StrEnum):
    """How a finding affects acceptance.

    FATAL: the archive as a whole cannot be accepted (nothing past the failed stage is read).
    ERROR: the file or record concerned is to be returned.
    WARNING: accepted, but worth a look.
    INFO: noted for the log.
    """

    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class FindingKind:
    """One entry of the registry: a stable code, its severity, message, 返戻理由 and the source of the rule."""

    code: str
    severity: Severity
    message: str
    reason: ReturnReason
    source: str = ""

    def at(self, *, file: str | None = None, xpath: str | None = None, detail: str | None = None) -> Finding:
        return Finding(
            code=self.code,
            severity=self.severity,
            file=file,
            xpath=xpath,
            message=self.message if not detail else f"{self.message}（{detail}）",
            reason=self.reason,
        )


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    file: str | None
    xpath: str | None
    message: str
    reason: ReturnReason

    @property
    def blocking(self) -> bool:
        return self.severity in (Severity.FATAL, Severity.ERROR)


_registry: dict[str, FindingKind] = {}


_SOURCES = {
    "ARC_": "送付用ファイルアーカイブ仕様説明書 Version 4、受付チェック仕様（ZIP解凍時のチェック）",
    "XML_": "第4期 XMLスキーマ（XSD）と名前空間",
    "IDX_": "交換用基本情報ファイル仕様説明書 Version 4",
    "SUM_": "集計情報ファイル仕様",
    "ID_": "保険者番号設定要領・医療機関コード（検証番号）",
    "PAIR_": "送付用ファイルアーカイブ仕様: データと決済の対応",
    "DOC_": "特定健診情報ファイル仕様（hc08）",
    "CLM_": "決済情報ファイル仕様（cc08）",
    "OBS_": "XML用特定健診項目情報（第4期）",
}


def _kind(code: str, severity: Severity, message: str, reason: ReturnReason, source: str = "") -> FindingKind:
    if code in _registry:
        raise ValueError(f"duplicate finding code {code}")
    if not source:
        source = next(text for prefix, text in _SOURCES.items() if code.startswith(prefix))
    kind = FindingKind(code, severity, message, reason, source)
    _registry[code] = kind
    return kind


_F, _E, _W, _I = Severity.FATAL, Severity.ERROR, Severity.WARNING, Severity.INFO
_FMT, _MISS, _TICKET, _COPAY = (
    ReturnReason.FORMAT,
    ReturnReason.MISSING,
    ReturnReason.TICKET_NUMBER,
    ReturnReason.COPAY,
)

# --- the archive (ZIP) -------------------------------------------------------------------
ARC_NOT_ZIP = _kind("ARC_NOT_ZIP", _F, "ZIPファイル形式ではありません", _FMT)
ARC_CORRUPT = _kind("ARC_CORRUPT", _F, "ZIPファイルが破損しているか途中で切れています", _FMT)
ARC_TRAILING_DATA = _kind(
    "ARC_TRAILING_DATA", _F, "ZIPファイルの終端（セントラルディレクトリ終端レコード）の後ろに余分なデータがあります", _FMT
)
ARC_TOO_LARGE = _kind("ARC_TOO_LARGE", _F, "アーカイブのサイズが上限を超えています", _FMT)
ARC_TOO_MANY_MEMBERS = _kind("ARC_TOO_MANY_MEMBERS", _F, "アーカイブ内のファイル数が上限を超えています", _FMT)
ARC_MEMBER_TOO_LARGE = _kind("ARC_MEMBER_TOO_LARGE", _F, "展開後のファイルサイズが上限を超えています", _FMT)
ARC_TOTAL_TOO_LARGE = _kind("ARC_TOTAL_TOO_LARGE", _F, "展開後の合計サイズが上限を超えています", _FMT)
ARC_COMPRESSION_RATIO = _kind("ARC_COMPRESSION_RATIO", _F, "圧縮率が異常です（ZIP爆弾の疑い）", _FMT)
ARC_SIZE_MISMATCH = _kind("ARC_SIZE_MISMATCH", _F, "展開したサイズが宣言されたサイズと一致しません", _FMT)
ARC_MEMBER_TRAVERSAL = _kind("ARC_MEMBER_TRAVERSAL", _F, "親フォルダを指すパス（..）を含むファイルがあります", _FMT)
ARC_MEMBER_ABSOLUTE = _kind("ARC_MEMBER_ABSOLUTE", _F, "絶対パスまたはドライブ指定を含むファイルがあります", _FMT)
ARC_MEMBER_BACKSLASH = _kind("ARC_MEMBER_BACKSLASH", _F, "パス区切りにバックスラッシュを使ったファイルがあります", _FMT)
ARC_MEMBER_BAD_NAME = _kind("ARC_MEMBER_BAD_NAME", _F, "ファイル名に使用できない文字があります", _FMT)
ARC_MEMBER_SYMLINK = _kind("ARC_MEMBER_SYMLINK", _F, "シンボリックリンクが含まれています", _FMT)
ARC_MEMBER_DUPLICATE = _kind("ARC_MEMBER_DUPLICATE", _F, "同じ名前のファイルが重複しています", _FMT)
ARC_NESTED_ARCHIVE = _kind("ARC_NESTED_ARCHIVE", _F, "アーカイブの中に圧縮ファイルが含まれています", _FMT)
ARC_EXECUTABLE_MEMBER = _kind("ARC_EXECUTABLE_MEMBER", _F, "実行形式・マクロ等のファイルが含まれています", _FMT)
ARC_UNSUPPORTED_COMPRESSION = _kind("ARC_UNSUPPORTED_COMPRESSION", _F, "対応していない圧縮方式です", _FMT)
ARC_PASSWORD_REQUIRED = _kind(
    "ARC_PASSWORD_REQUIRED", _F, "パスワードで保護されていますがパスワードが指定されていません", _FMT
)
ARC_PASSWORD_WRONG = _kind("ARC_PASSWORD_WRONG", _F, "パスワードが正しくありません", _FMT)
ARC_NAME_INVALID = _kind(
    "ARC_NAME_INVALID", _E, "アーカイブ名が「提出元_提出先_提出日回数_実施区分」の形式ではありません", _FMT
)
ARC_ROOT_INVALID = _kind("ARC_ROOT_INVALID", _E, "ルートフォルダがひとつではないか、アーカイブ名と一致しません", _FMT)
ARC_UNEXPECTED_MEMBER = _kind(
    "ARC_UNEXPECTED_MEMBER", _E, "送付用ファイルアーカイブの構成にないファイルがあります（読み込みません）", _FMT
)
ARC_INDEX_MISSING = _kind("ARC_INDEX_MISSING", _E, "交換用基本情報ファイル（ix08_V08.xml）がありません", _MISS)
ARC_SUMMARY_MISSING = _kind(
    "ARC_SUMMARY_MISSING", _E, "決済情報があるのに集計情報ファイル（su08_V08.xml）がありません", _MISS
)
ARC_SUMMARY_UNEXPECTED = _kind("ARC_SUMMARY_UNEXPECTED", _W, "決済情報がないのに集計情報ファイルがあります", _FMT)
ARC_NO_DATA = _kind("ARC_NO_DATA", _E, "DATAフォルダに健診・保健指導情報ファイルがありません", _MISS)
ARC_MEMBER_NAME_NONSTANDARD = _kind(
    "ARC_MEMBER_NAME_NONSTANDARD", _W, "ファイル名が標準の命名規則に従っていません", _FMT
)
ARC_PAIR_MISSING = _kind("ARC_PAIR_MISSING", _E, "データファイルと決済ファイルが1対1で対応していません", _MISS)
ARC_MIXED_SERVICE = _kind(
    "ARC_MIXED_SERVICE", _E, "特定健診と特定保健指導のファイルが同じアーカイブに含まれています", _FMT
)

ARC_MEMBER_INSTITUTION_DIFFERS = _kind(
    "ARC_MEMBER_INSTITUTION_DIFFERS",
    _W,
    "ファイル名の機関番号が送付元の機関番号と異なります",
    _FMT,
    "送付用ファイルアーカイブ仕様説明書（ファイル名 = 接頭辞 + 機関番号10桁 + 作成日 + 回数 + 実施区分 + 連番）",
)

# --- XML well-formedness and safety ------------------------------------------------------------
XML_ENCODING = _kind("XML_ENCODING", _E, "文字コードがUTF-8ではありません", _FMT)
XML_DOCTYPE = _kind("XML_DOCTYPE", _E, "DOCTYPE宣言は使用できません", _FMT)
XML_ENTITY_DECLARED = _kind("XML_ENTITY_DECLARED", _E, "実体（ENTITY）宣言は使用できません（実体展開攻撃の疑い）", _FMT)
XML_EXTERNAL_ENTITY = _kind("XML_EXTERNAL_ENTITY", _E, "外部実体参照は使用できません（XXEの疑い）", _FMT)
XML_MALFORMED = _kind("XML_MALFORMED", _E, "XMLとして正しくありません", _FMT)
XML_ROOT_UNEXPECTED = _kind("XML_ROOT_UNEXPECTED", _E, "ファイルの種類に対応しないルート要素です", _FMT)
XML_NAMESPACE_UNKNOWN = _kind("XML_NAMESPACE_UNKNOWN", _E, "名前空間が正しくありません", _FMT)
XML_NAMESPACE_OLD = _kind(
    "XML_NAMESPACE_OLD", _E, "第3期以前の名前空間（2007）が使われています（第4期の様式ではありません）", _FMT
)
XML_SCHEMA_INVALID = _kind("XML_SCHEMA_INVALID", _E, "XMLスキーマ（第4期 XSD）に適合しません", _FMT)
XML_SCHEMA_UNAVAILABLE = _kind(
    "XML_SCHEMA_UNAVAILABLE", _W, "XMLスキーマが設定されていないためスキーマ検証を行っていません", _FMT
)
XML_FIELD_MISSING = _kind("XML_FIELD_MISSING", _E, "必要な要素・属性がありません", _MISS)
XML_FIELD_INVALID = _kind("XML_FIELD_INVALID", _E, "要素・属性の値の形式が正しくありません", _FMT)
XML_KIND_PREFIX_MISMATCH = _kind(
    "XML_KIND_PREFIX_MISMATCH",
    _E,
    "ファイル名の接頭辞（h/g/c/p）がファイルの内容（ルート要素・報告区分）と一致しません",
    _FMT,
    "送付用ファイルアーカイブ仕様説明書（接頭辞 h 特定健診・c 健診決済・g 保健指導・p 指導決済）",
)

# --- ix08 / su08 ----------------------------------------------------------------------------
IDX_COUNT_MISMATCH = _kind(
    "IDX_COUNT_MISMATCH", _E, "交換用基本情報の総ファイル数が実際のファイル数と一致しません", _FMT
)
IDX_NAME_MISMATCH = _kind(
    "IDX_NAME_MISMATCH", _E, "交換用基本情報の送付元・送付先・実施区分がアーカイブ名と一致しません", _FMT
)
IDX_OID_MISMATCH = _kind("IDX_OID_MISMATCH", _E, "送付元・送付先の識別子（OID）が種別コードと対応しません", _FMT)
IDX_SERVICE_MISMATCH = _kind("IDX_SERVICE_MISMATCH", _E, "ファイルの実施区分が交換用基本情報と一致しません", _FMT)
SUM_SUBJECT_COUNT_MISMATCH = _kind(
    "SUM_SUBJECT_COUNT_MISMATCH", _E, "集計情報の総数が決済ファイルの数と一致しません", _FMT
)
SUM_TOTAL_MISMATCH = _kind("SUM_TOTAL_MISMATCH", _E, "集計情報の金額総計が決済ファイルの合計と一致しません", _FMT)

# --- per document / claim -----------------------------------------------------------------------
ID_INSURER_CHECK_DIGIT = _kind("ID_INSURER_CHECK_DIGIT", _E, "保険者番号の検証番号が正しくありません", _FMT)
ID_INSTITUTION_CHECK_DIGIT = _kind("ID_INSTITUTION_CHECK_DIGIT", _E, "健診機関番号の検証番号が正しくありません", _FMT)
ID_AGENCY_CHECK_DIGIT = _kind("ID_AGENCY_CHECK_DIGIT", _E, "代行機関番号の検証番号が正しくありません", _FMT)
ID_INSURER_LENGTH = _kind(
    "ID_INSURER_LENGTH", _E, "保険者番号の桁数が正しくありません（8桁の数字。国保の6桁の番号は先頭に00を付けて8桁）", _FMT,
    "co08_V08.xsd（保険者番号）と保険者番号設定要領（法別番号2桁＋都道府県2桁＋保険者別番号3桁＋検証番号1桁）",
)
ID_INSTITUTION_LENGTH = _kind(
    "ID_INSTITUTION_LENGTH", _E, "健診機関番号の桁数が正しくありません（10桁の数字）", _FMT,
    "co08_V08.xsd（健診機関番号 [0-9]{10}）",
)
ID_AGENCY_LENGTH = _kind(
    "ID_AGENCY_LENGTH", _E, "代行機関番号の桁数が正しくありません（8桁の数字）", _FMT,
    "co08_V08.xsd（代行機関番号 [0-9]{8}）",
)
PAIR_IDENTITY_MISMATCH = _kind(
    "PAIR_IDENTITY_MISMATCH", _E, "データファイルと決済ファイルで受診者の情報が一致しません", _FMT
)
PAIR_TICKET_MISMATCH = _kind(
    "PAIR_TICKET_MISMATCH", _E, "データファイルと決済ファイルで受診券整理番号が一致しません", _TICKET
)
DOC_DATE_ORDER = _kind("DOC_DATE_ORDER", _E, "実施日がファイル作成日より後になっています", _FMT)
DOC_CODE_INVALID = _kind(
    "DOC_CODE_INVALID", _E, "コード表にないコードです", _FMT,
    "OID表: 報告区分（.1001）・プログラム種別（.1002）・性別（.1104）・セクション（.1010）・券面種別（.208）・"
    "委託料単価区分（別表15）・窓口負担（別表6）・詳細な健診項目（別表8）",
)
DOC_NOT_SPECIFIC_CHECKUP = _kind(
    "DOC_NOT_SPECIFIC_CHECKUP", _E, "特定健診情報（報告区分10・プログラム種別010）ではないため特定健診として請求できません",
    ReturnReason.NOT_CONTRACTED,
    "OID表: 報告区分 10 特定健診情報・プログラム種別 010 特定健康診査",
)
DOC_TICKET_INSURER_MISMATCH = _kind(
    "DOC_TICKET_INSURER_MISMATCH", _E, "受診券の保険者番号が受診者の保険者番号と一致しません", _TICKET,
    "特定健診情報ファイル仕様: 受診券（participant）の scopingOrganization と受診者（recordTarget）の保険者番号",
)
DOC_INSTITUTION_DIFFERS = _kind(
    "DOC_INSTITUTION_DIFFERS", _W, "ファイルの作成機関・実施機関の機関番号が送付元の機関番号と異なります", _FMT,
    "特定健診情報ファイル仕様: author（作成機関）・performer（実施機関）の機関番号",
)
CLM_CLAIM_TYPE_INCONSISTENT = _kind(
    "CLM_CLAIM_TYPE_INCONSISTENT", _E, "請求区分と単価・窓口負担の要素の組合せが正しくありません", _FMT
)
PAIR_GUIDANCE_MISMATCH = _kind(
    "PAIR_GUIDANCE_MISMATCH",
    _E,
    "保健指導情報と決済情報の保健指導区分・実施時点または利用券が一致しません",
    _FMT,
    "特定保健指導情報ファイル仕様（hg08: 報告区分 21–25・保健指導区分）と決済情報（gc08: guidanceLevel・guidanceTiming・利用券）",
)
GDN_AMOUNT_INCONSISTENT = _kind(
    "GDN_AMOUNT_INCONSISTENT",
    _E,
    "保健指導の決済情報の算定金額・窓口負担・請求金額が利用券の負担条件による再計算と一致しません",
    _COPAY,
    "決済情報（gc08: unitPrice × paymentRate、利用券の窓口負担と保険者負担上限額、別表14 窓口負担徴収）",
)
CLM_AMOUNT_INCONSISTENT = _kind("CLM_AMOUNT_INCONSISTENT", _E, "決済情報の金額の合計が一致しません", _COPAY)
OBS_UNKNOWN_CODE = _kind("OBS_UNKNOWN_CODE", _W, "項目マスタにない項目コードです", _FMT)
OBS_TYPE_MISMATCH = _kind("OBS_TYPE_MISMATCH", _E, "項目のデータ型（xsi:type）が項目マスタと一致しません", _FMT)
OBS_UNIT_MISMATCH = _kind("OBS_UNIT_MISMATCH", _E, "項目の単位が項目マスタと一致しません", _FMT)
OBS_VALUE_FORMAT = _kind("OBS_VALUE_FORMAT", _E, "項目の値が項目マスタの形式（桁数）に合いません", _FMT)
OBS_ANSWER_CODE = _kind("OBS_ANSWER_CODE", _E, "回答コードまたはコード体系（OID）が項目マスタと一致しません", _FMT)

FINDING_KINDS = MappingProxyType(dict(_registry))
"""Every finding code the reader can emit, by code."""
