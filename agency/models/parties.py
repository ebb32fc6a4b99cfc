"""The parties: this agency, the insurers and institutions it serves, and their contracts."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agency.validators import (
    account_number_validator,
    bank_code_validator,
    branch_code_validator,
    item_code_validator,
    validate_agency_number,
    validate_half_width_kana,
    validate_institution_number,
    validate_insurer_number,
    validate_invoice_registration_number,
)
from kenshin.checkdigits import normalize_insurer_number

from .base import TimeStampedModel


class AgencyProfile(TimeStampedModel):
    """The agency's identity and the facts of its public disclosure form (one row)."""

    class Classification(models.TextChoices):
        INSURER_SIDE = "insurer_side", _("医療保険者サイド")
        INSTITUTION_GROUP = "institution_group", _("健診・保健指導機関サイド（健診機関グループ）")
        INSTITUTION_OTHER = "institution_other", _("健診・保健指導機関サイド（健診機関グループ以外）")

    class SystemOwnership(models.TextChoices):
        OWN = "own", _("自己導入")
        LEASED = "leased", _("借用")

    class SystemOperation(models.TextChoices):
        IN_HOUSE = "in_house", _("自機関内")
        FULLY_OUTSOURCED = "fully_outsourced", _("全部委託")
        PARTLY_OUTSOURCED = "partly_outsourced", _("一部委託")

    class SystemFacility(models.TextChoices):
        OWN_FACILITY = "own_facility", _("専用施設(機関所有)")
        OWN_BUILDING_AREA = "own_building_area", _("機関建物内専用区画")
        CONTRACTOR_FACILITY = "contractor_facility", _("専用施設(委託先)")
        NONE = "none", _("特に無し")

    name = models.CharField(_("機関名"), max_length=200)
    address = models.CharField(_("所在地"), max_length=300)
    phone = models.CharField(_("電話番号"), max_length=20)
    fax = models.CharField(_("FAX番号"), max_length=20, blank=True)
    website_url = models.URLField(_("ホームページアドレス"), blank=True)
    contact_email = models.EmailField(_("窓口となるメールアドレス"))
    agency_code = models.CharField(_("代行機関コード"), max_length=8, validators=[validate_agency_number])
    classification = models.CharField(_("代行機関の分類"), max_length=32, choices=Classification.choices)
    invoice_registration_number = models.CharField(
        _("適格請求書発行事業者登録番号"), max_length=14, validators=[validate_invoice_registration_number]
    )

    staff_dedicated_own = models.PositiveIntegerField(_("従事職員 専任 機関本体"), default=0)
    staff_dedicated_partner = models.PositiveIntegerField(_("従事職員 専任 協力・関係会社"), null=True, blank=True)
    staff_concurrent_own = models.PositiveIntegerField(_("従事職員 兼任 機関本体"), default=0)
    staff_concurrent_partner = models.PositiveIntegerField(_("従事職員 兼任 協力・関係会社"), null=True, blank=True)
    staff_total_own = models.PositiveIntegerField(_("全職員 機関本体"), default=0)
    staff_total_partner = models.PositiveIntegerField(_("全職員 協力・関係会社"), null=True, blank=True)
    sites_count = models.PositiveIntegerField(_("施設数(サポート拠点数)"), default=1)
    sites_prefectures = models.CharField(_("拠点の都道府県名"), max_length=100, blank=True)
    financial_reference = models.CharField(_("財務基盤に関する資料または照会先"), max_length=300, blank=True)
    similar_services = models.BooleanField(_("類似業務・サービスの提供実績"), default=False)
    similar_services_detail = models.CharField(_("類似業務の内容"), max_length=300, blank=True)

    serves_insurers = models.BooleanField(_("サービス対象: 保険者向け"), default=True)
    serves_institutions = models.BooleanField(_("サービス対象: 健診・保健指導機関向け"), default=False)
    service_checking = models.BooleanField(_("事務点検"), default=True)
    service_billing = models.BooleanField(_("請求・支払のとりまとめ・代行"), default=True)
    service_routing = models.BooleanField(_("健診・保健指導データの受領・振分・送付"), default=True)
    service_other = models.BooleanField(_("その他のサービス"), default=False)
    service_other_detail = models.CharField(_("その他のサービスの内容"), max_length=200, blank=True)
    selectable_by_insurers = models.BooleanField(_("保険者によるサービスの選択"), default=True)
    selectable_by_insurers_detail = models.CharField(_("保険者が選択可能な機能"), max_length=200, blank=True)
    selectable_by_institutions = models.BooleanField(_("健診・保健指導機関によるサービスの選択"), default=False)
    selectable_by_institutions_detail = models.CharField(
        _("健診・保健指導機関が選択可能な機能"), max_length=200, blank=True
    )

    service_start_date = models.DateField(_("提供開始の年月日"))
    system_ownership = models.CharField(_("システムの保有"), max_length=16, choices=SystemOwnership.choices)
    system_operation = models.CharField(_("システムの運用管理"), max_length=32, choices=SystemOperation.choices)
    system_facility = models.CharField(
        _("システム専用区画・施設の有無"), max_length=32, choices=SystemFacility.choices
    )
    system_engineers_own = models.PositiveIntegerField(_("システム管理技術者数 機関本体"), default=0)
    system_engineers_contractor = models.PositiveIntegerField(_("システム管理技術者数 委託先"), default=0)
    capacity_per_year = models.PositiveIntegerField(_("処理可能件数(設計値) 年間"))
    capacity_per_day = models.PositiveIntegerField(_("処理可能件数(設計値) 1日当たり"))

    hours_site = models.CharField(_("サービス提供時間 拠点"), max_length=100)
    hours_system = models.CharField(_("サービス提供時間 システム"), max_length=100)
    hours_helpdesk = models.CharField(_("サービス提供時間 ヘルプデスク"), max_length=100)
    inbound_online = models.BooleanField(_("外部から機関へ: オンライン"), default=True)
    inbound_online_lines = models.CharField(_("外部から機関へ: 回線種別"), max_length=100, blank=True)
    inbound_offline = models.BooleanField(_("外部から機関へ: オフライン"), default=True)
    inbound_offline_means = models.CharField(_("外部から機関へ: 送付手段"), max_length=100, blank=True)
    outbound_online = models.BooleanField(_("機関から外部へ: オンライン"), default=True)
    outbound_online_lines = models.CharField(_("機関から外部へ: 回線種別"), max_length=100, blank=True)
    outbound_offline = models.BooleanField(_("機関から外部へ: オフライン"), default=True)
    outbound_offline_means = models.CharField(_("機関から外部へ: 送付手段"), max_length=100, blank=True)
    security_online = models.CharField(_("データ授受のセキュリティ対策 オンライン"), max_length=200, blank=True)
    security_offline = models.CharField(_("データ授受のセキュリティ対策 オフライン"), max_length=200, blank=True)

    # Fees charged to insurers, consumption tax included (注10), integer yen.
    fee_initial = models.PositiveIntegerField(_("初期費用（税込）"))
    fee_fixed = models.PositiveIntegerField(_("固定費（税込）"))
    fee_per_checkup = models.PositiveIntegerField(_("従量単価 1健診あたり（税込）"))
    required_equipment = models.TextField(_("代行機関利用に際し必要となる設備等"), blank=True)

    class Meta:
        verbose_name = _("代行機関情報")
        verbose_name_plural = _("代行機関情報")

    def __str__(self) -> str:
        return self.name


# --- Insurers and institutions -------------------------------------------------------------------


class Insurer(TimeStampedModel):
    number = models.CharField(
        _("保険者番号"), max_length=8, unique=True, validators=[validate_insurer_number]
    )
    name = models.CharField(_("保険者名"), max_length=200)
    contract_start = models.DateField(_("当機関との契約開始日"))
    billing_postal_code = models.CharField(_("請求先郵便番号"), max_length=8, blank=True)
    billing_address = models.CharField(_("請求先住所"), max_length=300, blank=True)
    billing_department = models.CharField(_("請求先部署"), max_length=200, blank=True)
    billing_contact_name = models.CharField(_("請求先担当者"), max_length=100, blank=True)
    billing_email = models.EmailField(_("請求先メールアドレス"), blank=True)
    billing_phone = models.CharField(_("請求先電話番号"), max_length=20, blank=True)
    delivery_waits_for_confirmation = models.BooleanField(
        _("警告の確認後に送付する"),
        default=True,
        help_text=_("有効にすると、未確認の警告がある健診データは代行機関の職員が確認するまで送付しません。"),
    )
    is_active = models.BooleanField(_("有効"), default=True)

    class Meta:
        verbose_name = _("保険者")
        verbose_name_plural = _("保険者")
        ordering: ClassVar[list[str]] = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def clean(self) -> None:
        self.number = normalize_insurer_number(self.number or "")


class Institution(TimeStampedModel):
    class AccountType(models.TextChoices):
        ORDINARY = "1", _("普通")
        CURRENT = "2", _("当座")
        SAVINGS = "4", _("貯蓄")
        OTHER = "9", _("その他")

    number = models.CharField(
        _("機関番号"), max_length=10, unique=True, validators=[validate_institution_number]
    )
    name = models.CharField(_("機関名"), max_length=200)
    postal_code = models.CharField(_("郵便番号"), max_length=8, blank=True)
    address = models.CharField(_("所在地"), max_length=300, blank=True)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True)
    bank_code = models.CharField(_("金融機関コード"), max_length=4, blank=True, validators=[bank_code_validator])
    branch_code = models.CharField(_("支店コード"), max_length=3, blank=True, validators=[branch_code_validator])
    account_type = models.CharField(_("預金種目"), max_length=1, choices=AccountType.choices, blank=True)
    account_number = models.CharField(
        _("口座番号"), max_length=7, blank=True, validators=[account_number_validator]
    )
    account_holder_kana = models.CharField(
        _("口座名義（半角カナ）"), max_length=30, blank=True, validators=[validate_half_width_kana]
    )
    # The password the institution locks its archives with (データのパスワードロック), kept encrypted
    # (agency.crypto) because archives must be opened with it; set through services.institution_archive_password_set.
    archive_password = models.TextField(_("アーカイブのパスワード（暗号化）"), blank=True, editable=False)
    is_active = models.BooleanField(_("有効"), default=True)

    class Meta:
        verbose_name = _("健診機関")
        verbose_name_plural = _("健診機関")
        ordering: ClassVar[list[str]] = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def clean(self) -> None:
        bank_fields = [self.bank_code, self.branch_code, self.account_type, self.account_number, self.account_holder_kana]
        if any(bank_fields) and not all(bank_fields):
            raise ValidationError(_("振込先口座は金融機関コード・支店コード・預金種目・口座番号・口座名義をすべて入力してください。"))


class InstitutionEmailSender(TimeStampedModel):
    """An e-mail address from which an institution may send archives."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="email_senders")
    address = models.EmailField(_("送信元メールアドレス"), unique=True)

    class Meta:
        verbose_name = _("登録済み送信元アドレス")
        verbose_name_plural = _("登録済み送信元アドレス")

    def __str__(self) -> str:
        return self.address

    def clean(self) -> None:
        self.address = (self.address or "").strip().lower()


# --- Contracts -----------------------------------------------------------------------------------


class CopayCode(models.IntegerChoices):
    """窓口負担区分 (別表6)."""

    NONE = 1, _("負担なし")
    FIXED = 2, _("定額負担")
    RATE = 3, _("定率負担")
    INSURER_CAP = 4, _("保険者負担上限額")


class Contract(TimeStampedModel):
    """A 集合契約/個別契約 between an insurer and an institution: its prices (the copay is the 受診券's)."""

    class CommissionType(models.IntegerChoices):
        """委託料単価区分 (別表15)."""

        INDIVIDUAL = 1, _("個別健診")
        GROUP = 2, _("集団健診")

    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="contracts")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="contracts")
    valid_from = models.DateField(_("契約開始日"))
    valid_to = models.DateField(_("契約終了日"), null=True, blank=True)
    commission_type = models.PositiveSmallIntegerField(_("委託料単価区分"), choices=CommissionType.choices)

    # Unit prices in integer yen.
    basic_price = models.PositiveIntegerField(_("基本的な健診 単価"))
    anemia_price = models.PositiveIntegerField(_("詳細: 貧血検査 単価"), default=0)
    ecg_price = models.PositiveIntegerField(_("詳細: 心電図検査 単価"), default=0)
    fundus_price = models.PositiveIntegerField(_("詳細: 眼底検査 単価"), default=0)
    creatinine_price = models.PositiveIntegerField(_("詳細: 血清クレアチニン検査 単価"), default=0)

    dock_price = models.PositiveIntegerField(
        _("人間ドック 単価"), null=True, blank=True, help_text=_("人間ドック（請求区分5）を契約する場合の単価。空欄は人間ドックの契約なし。")
    )
    # The person's 窓口負担 is stated by the 受診券 (the insurer's ticket data or the claim's checkupCard),
    # never by the contract: a contract states prices only.
    issues_tickets = models.BooleanField(
        _("受診券を発行する"),
        default=True,
        help_text=_("受診券を発行しない個別契約では、受診券整理番号のない健診データも返戻しません。"),
    )

    # 特定保健指導: the unit price of a whole course per level (分割請求 parts add up to it); empty = not contracted.
    guidance_active_price = models.PositiveIntegerField(
        _("特定保健指導: 積極的支援 単価"), null=True, blank=True, help_text=_("空欄は積極的支援の契約なし。")
    )
    guidance_motivational_price = models.PositiveIntegerField(
        _("特定保健指導: 動機付け支援 単価"), null=True, blank=True, help_text=_("空欄は動機付け支援の契約なし（動機付け支援相当を含む）。")
    )
    results_only = models.BooleanField(
        _("結果のみ（決済情報なし）"),
        default=False,
        help_text=_("個別契約で決済情報を付けずに健診結果だけを送付する契約。費用は代行機関を通じて請求されません。"),
    )
    other_checkups = models.BooleanField(
        _("事業者健診等（実施区分4）の送付"),
        default=False,
        help_text=_("健診機関が事業者に代わって事業者健診等の結果を送付することを保険者が認める。特定健診として請求されません。"),
    )

    class Meta:
        verbose_name = _("契約")
        verbose_name_plural = _("契約")
        ordering: ClassVar[list[str]] = ["insurer__number", "institution__number", "valid_from"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="contract_valid_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.insurer.number} × {self.institution.number} ({self.valid_from:%Y-%m-%d}〜)"

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def clean(self) -> None:
        if self.insurer_id and self.institution_id and self.valid_from:
            overlapping = Contract.objects.filter(
                insurer_id=self.insurer_id,
                institution_id=self.institution_id,
                commission_type=self.commission_type,
            ).exclude(pk=self.pk)
            if self.valid_to is not None:
                overlapping = overlapping.filter(valid_from__lte=self.valid_to)
            overlapping = overlapping.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=self.valid_from))
            if overlapping.exists():
                raise ValidationError(_("同じ保険者・健診機関・単価区分で契約期間が重複しています。"))


class ContractOtherItem(models.Model):
    """A price for an additional (追加) item under a contract."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="other_items")
    item_code = models.CharField(_("項目コード"), max_length=17, validators=[item_code_validator])
    price = models.PositiveIntegerField(_("単価"))

    class Meta:
        verbose_name = _("追加健診項目単価")
        verbose_name_plural = _("追加健診項目単価")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["contract", "item_code"], name="contract_other_item_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item_code}: {self.price}"


# --- Accounts --------------------------------------------------------------------------------------
