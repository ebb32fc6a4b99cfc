"""集合契約: one contract between a group of insurers (through a 代表保険者) and a group of institutions
(through a 契約取りまとめ機関), priced by tables per prefecture or institution group.

An insurer belongs to the contract from the day it joins to the last day before it leaves; an
institution from the day it joins (to the last day it takes part, when it stops). A record is priced
by a collective contract when its insurer and its institution both belong to it on the checkup day
and the pair has no contract of its own (``agency.contracts.ContractBook``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agency.validators import item_code_validator

from .base import TimeStampedModel
from .parties import Contract, Institution, Insurer


class CollectiveContract(TimeStampedModel):
    """A 集合契約 (健保連・協会けんぽの契約、市町村国保の集合契約 …)."""

    name = models.CharField(_("契約名"), max_length=200)
    representative = models.ForeignKey(
        Insurer, on_delete=models.PROTECT, related_name="represented_collective_contracts", verbose_name=_("代表保険者")
    )
    coordinator = models.CharField(_("契約取りまとめ機関"), max_length=200)
    valid_from = models.DateField(_("契約開始日"))
    valid_to = models.DateField(_("契約終了日"), null=True, blank=True)
    issues_tickets = models.BooleanField(
        _("受診券を発行する"), default=True,
        help_text=_("集合契約の健診は受診券（整理番号）が必要です。発行しない契約だけ外してください。"),
    )

    class Meta:
        verbose_name = _("集合契約")
        verbose_name_plural = _("集合契約")
        ordering: ClassVar[list[str]] = ["valid_from", "name"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="collective_contract_period_ordered",
            ),
            models.UniqueConstraint(fields=["name"], name="collective_contract_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.valid_from:%Y-%m-%d}〜）"

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def _covers(joined_on: dt.date, left_on: dt.date | None, day: dt.date) -> bool:
    return joined_on <= day and (left_on is None or day <= left_on)


def _period_ordered(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(left_on__isnull=True) | Q(left_on__gte=models.F("joined_on")), name=name)


class CollectiveInsurer(TimeStampedModel):
    """An insurer's membership of a collective contract, from ``joined_on`` to ``left_on`` (its last day)."""

    contract = models.ForeignKey(CollectiveContract, on_delete=models.CASCADE, related_name="insurers")
    insurer = models.ForeignKey(Insurer, on_delete=models.PROTECT, related_name="collective_memberships")
    joined_on = models.DateField(_("参加日"))
    left_on = models.DateField(_("脱退日（最終日）"), null=True, blank=True)

    class Meta:
        verbose_name = _("集合契約の参加保険者")
        verbose_name_plural = _("集合契約の参加保険者")
        ordering: ClassVar[list[str]] = ["contract_id", "insurer__number", "joined_on"]
        constraints: ClassVar[list[models.BaseConstraint]] = [_period_ordered("collective_insurer_period_ordered")]

    def __str__(self) -> str:
        return f"{self.contract.name}: {self.insurer.number}"

    def covers(self, day: dt.date) -> bool:
        return _covers(self.joined_on, self.left_on, day)

    def clean(self) -> None:
        _no_overlap(self, CollectiveInsurer.objects.filter(contract_id=self.contract_id, insurer_id=self.insurer_id),
                    _("この保険者は同じ集合契約に重なる期間で参加しています。"))


class CollectiveInstitution(TimeStampedModel):
    """An institution's membership of a collective contract and the price group (都道府県 or 機関グループ)
    whose table prices its checkups."""

    contract = models.ForeignKey(CollectiveContract, on_delete=models.CASCADE, related_name="institutions")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="collective_memberships")
    price_group = models.CharField(
        _("単価表の区分"), max_length=40, help_text=_("都道府県（2桁の都道府県番号）または機関グループの名前。")
    )
    joined_on = models.DateField(_("参加日"))
    left_on = models.DateField(_("脱退日（最終日）"), null=True, blank=True)

    class Meta:
        verbose_name = _("集合契約の参加健診機関")
        verbose_name_plural = _("集合契約の参加健診機関")
        ordering: ClassVar[list[str]] = ["contract_id", "institution__number", "joined_on"]
        constraints: ClassVar[list[models.BaseConstraint]] = [_period_ordered("collective_institution_period_ordered")]

    def __str__(self) -> str:
        return f"{self.contract.name}: {self.institution.number}"

    def covers(self, day: dt.date) -> bool:
        return _covers(self.joined_on, self.left_on, day)

    def clean(self) -> None:
        _no_overlap(
            self, CollectiveInstitution.objects.filter(contract_id=self.contract_id, institution_id=self.institution_id),
            _("この健診機関は同じ集合契約に重なる期間で参加しています。"),
        )


def _no_overlap(member: CollectiveInsurer | CollectiveInstitution, others: Any, message: Any) -> None:
    if not member.joined_on:
        return
    others = others.exclude(pk=member.pk).filter(Q(left_on__isnull=True) | Q(left_on__gte=member.joined_on))
    if member.left_on is not None:
        others = others.filter(joined_on__lte=member.left_on)
    if others.exists():
        raise ValidationError(message)


class CollectivePriceTable(models.Model):
    """The prices of one price group and 委託料単価区分 (個別/集団) under a collective contract, in integer
    yen; the field names are those of ``Contract`` so the claim arithmetic reads both alike."""

    contract = models.ForeignKey(CollectiveContract, on_delete=models.CASCADE, related_name="price_tables")
    price_group = models.CharField(_("単価表の区分"), max_length=40)
    commission_type = models.PositiveSmallIntegerField(_("委託料単価区分"), choices=Contract.CommissionType.choices)
    basic_price = models.PositiveIntegerField(_("基本的な健診 単価"))
    anemia_price = models.PositiveIntegerField(_("詳細: 貧血検査 単価"), default=0)
    ecg_price = models.PositiveIntegerField(_("詳細: 心電図検査 単価"), default=0)
    fundus_price = models.PositiveIntegerField(_("詳細: 眼底検査 単価"), default=0)
    creatinine_price = models.PositiveIntegerField(_("詳細: 血清クレアチニン検査 単価"), default=0)
    dock_price = models.PositiveIntegerField(_("人間ドック 単価"), null=True, blank=True)

    class Meta:
        verbose_name = _("集合契約の単価表")
        verbose_name_plural = _("集合契約の単価表")
        ordering: ClassVar[list[str]] = ["contract_id", "price_group", "commission_type"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["contract", "price_group", "commission_type"], name="collective_price_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.contract.name} {self.price_group} ({self.get_commission_type_display()})"


class CollectivePriceOtherItem(models.Model):
    """A price for an additional (追加) item in a collective price table."""

    table = models.ForeignKey(CollectivePriceTable, on_delete=models.CASCADE, related_name="other_items")
    item_code = models.CharField(_("項目コード"), max_length=17, validators=[item_code_validator])
    price = models.PositiveIntegerField(_("単価"))

    class Meta:
        verbose_name = _("集合契約の追加健診項目単価")
        verbose_name_plural = _("集合契約の追加健診項目単価")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["table", "item_code"], name="collective_other_item_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item_code}: {self.price}"
