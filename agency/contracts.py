"""Which contract prices a checkup: the one place that decides.

The pair's own contract (the insurer and the institution, the same 委託料単価区分, valid on the
checkup day) comes first; otherwise a collective contract (集合契約) valid that day to which both the
insurer and the institution belong on that day, priced by the table of the institution's price group
and the 委託料単価区分. When several collective contracts qualify, the one that started last applies
(then the lowest id), so the choice never depends on the order rows were read in.

``ContractBook`` loads an institution's contracts with a set of insurers in a fixed number of
queries (intake checks records in batches); ``contract_for`` asks for one record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from kenshin import copay

from .models import (
    CollectiveContract,
    CollectiveInstitution,
    CollectiveInsurer,
    CollectivePriceTable,
    Contract,
    Institution,
)

COMMISSION_LABELS = {1: "個別", 2: "集団"}


@dataclass(frozen=True)
class AppliedContract:
    """The contract that prices a record: a pair contract, or a collective contract and its price table."""

    pair: Contract | None = None
    collective: CollectiveContract | None = None
    table: CollectivePriceTable | None = None

    @property
    def prices(self) -> Contract | CollectivePriceTable:
        prices = self.pair if self.pair is not None else self.table
        assert prices is not None  # noqa: S101 - one of the two is always set by ContractBook
        return prices

    @property
    def issues_tickets(self) -> bool:
        if self.pair is not None:
            return self.pair.issues_tickets
        return self.collective is None or self.collective.issues_tickets

    @property
    def label(self) -> str:
        """How a clerk names it: 個別契約 (period) or 集合契約「name」 with the price table."""
        if self.pair is not None:
            end = f"{self.pair.valid_to:%Y-%m-%d}" if self.pair.valid_to else ""
            return _("個別契約（%(start)s〜%(end)s）") % {"start": f"{self.pair.valid_from:%Y-%m-%d}", "end": end}
        assert self.collective is not None  # noqa: S101 - see prices
        assert self.table is not None  # noqa: S101 - see prices
        return _("集合契約「%(name)s」 単価表 %(group)s・%(kind)s") % {
            "name": self.collective.name, "group": self.table.price_group,
            "kind": COMMISSION_LABELS.get(self.table.commission_type, str(self.table.commission_type)),
        }

    def terms(self) -> copay.ContractTerms:
        return copay.terms_from_contract(self.prices)


@dataclass
class ContractBook:
    """An institution's contracts with the insurers loaded so far."""

    institution: Institution
    pairs: dict[str, list[Contract]] = field(default_factory=dict)
    insurer_memberships: dict[str, list[CollectiveInsurer]] = field(default_factory=dict)
    institution_memberships: list[CollectiveInstitution] | None = None
    tables: dict[tuple[int, str, int], CollectivePriceTable] = field(default_factory=dict)
    _terms: dict[tuple[str, int], copay.ContractTerms] = field(default_factory=dict)

    def load(self, insurer_numbers: Iterable[str]) -> None:
        numbers = set(insurer_numbers) - self.pairs.keys()
        if self.institution_memberships is None:
            self.institution_memberships = list(
                CollectiveInstitution.objects.filter(institution=self.institution).select_related("contract")
            )
            contract_ids = {m.contract_id for m in self.institution_memberships}
            for table in CollectivePriceTable.objects.filter(contract_id__in=contract_ids).prefetch_related("other_items"):
                self.tables[(table.contract_id, table.price_group, table.commission_type)] = table
        if not numbers:
            return
        for number in numbers:
            self.pairs[number] = []
            self.insurer_memberships[number] = []
        for contract in Contract.objects.filter(
            insurer__number__in=numbers, institution=self.institution
        ).select_related("insurer").prefetch_related("other_items"):
            self.pairs[contract.insurer.number].append(contract)
        contract_ids = {m.contract_id for m in self.institution_memberships}
        for membership in CollectiveInsurer.objects.filter(
            insurer__number__in=numbers, contract_id__in=contract_ids
        ).select_related("insurer"):
            self.insurer_memberships[membership.insurer.number].append(membership)

    def select(self, insurer_number: str, commission_type: int | None, day: dt.date) -> AppliedContract | None:
        """The contract that prices a checkup of the insurer's on ``day`` (None: no contract applies)."""
        if commission_type is None:
            return None
        self.load([insurer_number])
        pair = next(
            (c for c in self.pairs[insurer_number] if c.commission_type == commission_type and c.is_valid_on(day)), None
        )
        if pair is not None:
            return AppliedContract(pair=pair)
        candidates = []
        joined = {m.contract_id for m in self.insurer_memberships[insurer_number] if m.covers(day)}
        for membership in self.institution_memberships or []:
            contract = membership.contract
            if membership.contract_id not in joined or not membership.covers(day) or not contract.is_valid_on(day):
                continue
            table = self.tables.get((contract.pk, membership.price_group, commission_type))
            if table is not None:
                candidates.append(AppliedContract(collective=contract, table=table))
        if not candidates:
            return None
        return min(candidates, key=lambda a: (-a.collective.valid_from.toordinal(), a.collective.pk))  # type: ignore[union-attr]

    def terms_of(self, applied: AppliedContract) -> copay.ContractTerms:
        key = ("pair", applied.prices.pk) if applied.pair is not None else ("table", applied.prices.pk)
        terms = self._terms.get(key)
        if terms is None:
            terms = self._terms[key] = applied.terms()
        return terms

    def explain_none(self, insurer_number: str, commission_type: int | None, day: dt.date) -> str:
        """Why no contract applies, naming the contracts looked at (for the finding's detail)."""
        kind = COMMISSION_LABELS.get(commission_type or 0, _("不明"))
        self.load([insurer_number])
        parts = []
        pairs = self.pairs[insurer_number]
        if not pairs:
            parts.append(_("個別契約なし"))
        for pair in pairs:
            end = f"{pair.valid_to:%Y-%m-%d}" if pair.valid_to else ""
            parts.append(_("個別契約 %(kind)s %(start)s〜%(end)s") % {
                "kind": COMMISSION_LABELS.get(pair.commission_type, ""), "start": f"{pair.valid_from:%Y-%m-%d}", "end": end})
        memberships = {m.contract_id: m for m in self.insurer_memberships[insurer_number]}
        for membership in self.institution_memberships or []:
            contract = membership.contract
            mine = memberships.get(contract.pk)
            if mine is None:
                reason = _("保険者が参加していません")
            elif not mine.covers(day):
                reason = _("保険者の参加期間 %(start)s〜%(end)s の外です") % {
                    "start": f"{mine.joined_on:%Y-%m-%d}", "end": f"{mine.left_on:%Y-%m-%d}" if mine.left_on else ""}
            elif not membership.covers(day):
                reason = _("健診機関の参加日 %(start)s より前です") % {"start": f"{membership.joined_on:%Y-%m-%d}"}
            elif not contract.is_valid_on(day):
                reason = _("契約期間の外です")
            else:
                reason = _("単価表（%(group)s・%(kind)s）がありません") % {"group": membership.price_group, "kind": kind}
            parts.append(_("集合契約「%(name)s」: %(reason)s") % {"name": contract.name, "reason": reason})
        return _("健診実施日 %(day)s・%(kind)s: ") % {"day": f"{day:%Y-%m-%d}", "kind": kind} + "／".join(parts)


def applied_contract(pair: Contract | None, table: CollectivePriceTable | None) -> AppliedContract | None:
    """The contract a record names (its pair contract or its collective price table), to show it."""
    if pair is not None:
        return AppliedContract(pair=pair)
    if table is not None:
        return AppliedContract(collective=table.contract, table=table)
    return None


def contract_for(insurer_number: str, institution: Institution, commission_type: int | None, day: dt.date) -> AppliedContract | None:
    """The contract that prices one checkup (see the module's rule)."""
    return ContractBook(institution).select(insurer_number, commission_type, day)
