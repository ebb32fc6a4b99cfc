"""対処方法 for the format reader's own findings (``kenshin.findings``): what the sender does about each.

The agency's rules carry their hint where they are declared (``rule(..., hint)``); the reader's
finding kinds are plain Python without one, so their hints live here, by code. The catalogue and
every document an institution reads take the hint from ``catalogue()``.
"""

from __future__ import annotations

from types import MappingProxyType

_RESEND = "作成したシステムで送付用ファイルアーカイブを作り直して、もう一度送付してください。"

READER_HINTS = MappingProxyType({
    # the archive (ZIP)
    "ARC_NOT_ZIP": "送付用ファイルアーカイブはZIP形式で作成してください。" + _RESEND,
    "ARC_CORRUPT": "ファイルが途中で切れているか壊れています。" + _RESEND,
    "ARC_TOO_LARGE": "1回の送付の上限を超えています。受診者を分けて複数のアーカイブで送付してください。",
    "ARC_TOO_MANY_MEMBERS": "1回の送付のファイル数の上限を超えています。受診者を分けて複数のアーカイブで送付してください。",
    "ARC_MEMBER_TOO_LARGE": "1ファイルの大きさが上限を超えています。健診結果ファイルの内容を確認してください。",
    "ARC_TOTAL_TOO_LARGE": "展開後の合計の上限を超えています。受診者を分けて複数のアーカイブで送付してください。",
    "ARC_COMPRESSION_RATIO": "通常の健診データではありえない圧縮率です。" + _RESEND,
    "ARC_SIZE_MISMATCH": "ZIPの内容が壊れています。" + _RESEND,
    "ARC_MEMBER_TRAVERSAL": "フォルダ名・ファイル名に「..」を使わず、標準のフォルダ構成で作成してください。",
    "ARC_MEMBER_ABSOLUTE": "ドライブ名や「/」から始まるパスを使わず、標準のフォルダ構成で作成してください。",
    "ARC_MEMBER_BACKSLASH": "フォルダの区切りは「/」で作成してください（ZIP作成ツールの設定を確認してください）。",
    "ARC_MEMBER_BAD_NAME": "ファイル名は標準の命名規則（半角英数字）で作成してください。",
    "ARC_MEMBER_SYMLINK": "ショートカットやリンクを含めず、実際のファイルだけで作成してください。",
    "ARC_MEMBER_DUPLICATE": "同じ名前のファイルを重ねて入れないでください。" + _RESEND,
    "ARC_NESTED_ARCHIVE": "ZIPの中にZIP等の圧縮ファイルを入れないでください。",
    "ARC_EXECUTABLE_MEMBER": "健診データ以外のファイル（プログラム・マクロ等）を含めないでください。",
    "ARC_UNSUPPORTED_COMPRESSION": "ZIPの標準の圧縮方式（Deflate）またはAESのパスワードロックで作成してください。",
    "ARC_PASSWORD_REQUIRED": "パスワードを添えて送付するか、登録したパスワードで保護してください。",
    "ARC_PASSWORD_WRONG": "代行機関に登録したパスワード、または送付時に指定したパスワードを確認してください。",
    "ARC_NAME_INVALID": "アーカイブ名を「送付元機関番号_送付先番号_提出日と回数_実施区分」の形式にしてください。",
    "ARC_ROOT_INVALID": "ZIPの直下にアーカイブ名と同じ名前のフォルダをひとつだけ置いてください。",
    "ARC_UNEXPECTED_MEMBER": "DATA・CLAIMS・XSDフォルダと ix08・su08 以外のファイルは読み込みません。不要なファイルを除いてください。",
    "ARC_INDEX_MISSING": "交換用基本情報ファイル（ix08_V08.xml）を含めて作成してください。",
    "ARC_SUMMARY_MISSING": "決済情報ファイルを送る場合は集計情報ファイル（su08_V08.xml）も含めてください。",
    "ARC_SUMMARY_UNEXPECTED": "決済情報ファイルがない場合、集計情報ファイルは不要です。",
    "ARC_NO_DATA": "DATAフォルダに受診者ごとの健診結果ファイルを入れてください。",
    "ARC_MEMBER_NAME_NONSTANDARD": "ファイル名を標準の命名規則（機関番号・種別・連番）に合わせてください。",
    "ARC_PAIR_MISSING": "受診者ごとに健診結果ファイルと決済情報ファイルを同じ名前で1組ずつ含めてください。",
    "ARC_MIXED_SERVICE": "特定健診と特定保健指導は別のアーカイブ（実施区分1・2）で送付してください。",
    # XML
    "XML_ENCODING": "XMLファイルは文字コードUTF-8で作成してください。",
    "XML_DOCTYPE": "DOCTYPE宣言を含めずに作成してください。",
    "XML_ENTITY_DECLARED": "ENTITY宣言を含めずに作成してください。",
    "XML_EXTERNAL_ENTITY": "外部ファイルを参照する記述を含めずに作成してください。",
    "XML_MALFORMED": "ファイルが途中で切れているか、タグの対応が崩れています。作成したシステムで出力し直してください。",
    "XML_ROOT_UNEXPECTED": "フォルダとファイルの種類（健診結果・決済情報・ix08・su08）の対応を確認してください。",
    "XML_NAMESPACE_UNKNOWN": "第4期の様式（名前空間）で作成してください。",
    "XML_NAMESPACE_OLD": "第4期（2024年度以降）の様式で作成してください。作成システムの更新が必要な場合があります。",
    "XML_SCHEMA_INVALID": "第4期のXMLスキーマに従ってファイルを作成してください（ファイル内のすべての不備を表示しています）。",
    "XML_SCHEMA_UNAVAILABLE": "代行機関の設定を確認してください（送付元での対応は不要です）。",
    "XML_FIELD_MISSING": "表示された要素・属性をすべて記録してください（一度の再提出で直せるよう、ファイル内のすべての不備を表示しています）。",
    "XML_FIELD_INVALID": "示された要素・属性の値を標準の形式（桁数・日付形式など）で入力してください。",
    # ix08 / su08
    "IDX_COUNT_MISMATCH": "交換用基本情報の総ファイル数を、実際に含めたファイルの数に合わせてください。",
    "IDX_NAME_MISMATCH": "交換用基本情報の送付元・送付先・実施区分をアーカイブ名と同じにしてください。",
    "IDX_OID_MISMATCH": "種別コードに合った送付元・送付先の識別子（健診機関 …6.102、代行機関 …6.103）を設定してください。",
    "IDX_SERVICE_MISMATCH": "各ファイルの実施区分を交換用基本情報の実施区分と同じにしてください。",
    "SUM_SUBJECT_COUNT_MISMATCH": "集計情報の総数を、含めた決済情報ファイルの数に合わせてください。",
    "SUM_TOTAL_MISMATCH": "集計情報の金額総計を、決済情報ファイルの金額の合計に合わせてください。",
    # per document / claim
    "ID_INSURER_CHECK_DIGIT": "受診券・被保険者証に記載の保険者番号（8桁）を確認してください。",
    "ID_INSTITUTION_CHECK_DIGIT": "健診機関番号（10桁）を確認してください。",
    "ID_AGENCY_CHECK_DIGIT": "代行機関番号を確認してください。",
    "PAIR_IDENTITY_MISMATCH": "同じ受診者の健診結果ファイルと決済情報ファイルで、示された項目を同じにしてください。",
    "PAIR_TICKET_MISMATCH": "健診結果ファイルと決済情報ファイルに同じ受診券整理番号を入力してください。",
    "DOC_DATE_ORDER": "健診実施日とファイル作成日を確認してください。",
    "CLM_CLAIM_TYPE_INCONSISTENT": "請求区分（基本・詳細・追加・人間ドック）に合わせて単価と窓口負担の項目を入力してください。",
    "CLM_AMOUNT_INCONSISTENT": "単価合計・窓口負担額合計・請求額を、各行の金額から計算し直してください。",
    "GDN_AMOUNT_INCONSISTENT": (
        "算定金額は単価×支払割合、窓口負担額は利用券の負担条件（区分・額・率・上限額）と窓口負担徴収の区分から、"
        "請求額は算定金額−窓口負担額として計算し直してください。"
    ),
    "PAIR_GUIDANCE_MISMATCH": "保健指導情報ファイルと決済情報ファイルに同じ利用券整理番号・保健指導区分・実施時点を入力してください。",
    "OBS_UNKNOWN_CODE": "項目コード（17桁）を第4期の項目一覧で確認してください。",
    "OBS_TYPE_MISMATCH": "項目一覧に定められたデータ型（数値・コード・文字列）で記録してください。",
    "OBS_UNIT_MISMATCH": "項目一覧に定められた単位で記録してください。",
    "OBS_VALUE_FORMAT": "項目一覧に定められた桁数・小数点以下の桁数で記録してください。",
    "OBS_ANSWER_CODE": "項目一覧に定められた回答コードとコード体系で記録してください。",
    "ID_INSURER_LENGTH": "保険者番号は8桁で入力してください（国保の6桁の番号は先頭に00を付けます）。",
    "ID_INSTITUTION_LENGTH": "健診機関番号は10桁で入力してください。",
    "ID_AGENCY_LENGTH": "代行機関番号は8桁で入力してください。",
    "DOC_CODE_INVALID": "報告区分・プログラム種別・性別・セクション・券面種別・単価区分・窓口負担区分はコード表の値で記録してください。",
    "DOC_NOT_SPECIFIC_CHECKUP": "特定健診として請求する健診は報告区分10・プログラム種別010で作成してください。事業者健診等の結果は特定健診として請求できません。",
    "DOC_TICKET_INSURER_MISMATCH": "受診券の保険者番号と被保険者証の保険者番号を確認してください。",
    "DOC_INSTITUTION_DIFFERS": "他の機関の健診を代わりに送付する場合は問題ありません。誤りの場合は作成機関・実施機関の機関番号を確認してください。",
    "ARC_MEMBER_INSTITUTION_DIFFERS": "他の機関の健診を代わりに送付する場合は問題ありません。誤りの場合はファイル名の機関番号を確認してください。",
    "XML_KIND_PREFIX_MISMATCH": "特定健診は h（決済 c）、特定保健指導は g（決済 p）の接頭辞でファイルを作成してください。",
})
