"""Factories for 振分 (deliveries to insurers) and 過誤 (an insurer's return of a routed record).

A delivery's counts and totals follow its items, as packing sets them: every item made with
``DeliveryItemFactory`` recounts its delivery. ``DeliveryFactory(records=[…])`` routes those records
into it. An ``InsurerReturnFactory`` return marks its record returned, as the return service does.
"""

from __future__ import annotations

from typing import Any

import factory
from django.db.models import Max
from django.utils import timezone

from agency.demo import AGENCY
from intake.models import Record, RecordStatus
from kenshin.naming import ArchiveName
from routing.models import Delivery, DeliveryItem, InsurerReturn, InsurerReturnReason

from .agency import InsurerFactory
from .intake import RecordFactory, StoredArchiveFactory


def delivery_recount(delivery: Delivery) -> Delivery:
    """Set a delivery's counts and totals from the records inside it."""
    records = list(Record.objects.filter(delivery_item__delivery=delivery))
    delivery.record_count = len(records)
    delivery.file_count = 2 * len(records)
    delivery.unit_total = sum(r.unit_amount for r in records)
    delivery.payment_total = sum(r.payment_amount for r in records)
    delivery.claim_total = sum(r.claim_amount for r in records)
    delivery.save(update_fields=["record_count", "file_count", "unit_total", "payment_total", "claim_total"])
    return delivery


def _next_same_day_count(insurer: Any, day: Any) -> int:
    last = Delivery.objects.filter(insurer=insurer, created_on=day).aggregate(last=Max("same_day_count"))["last"]
    return 0 if last is None else last + 1


class DeliveryFactory(factory.django.DjangoModelFactory):
    """A 種別 3 archive from the agency to one insurer, named as the standard names it, with the next
    same-day count of that insurer and day."""

    class Meta:
        model = Delivery
        skip_postgeneration_save = True

    insurer = factory.SubFactory(InsurerFactory)
    archive = factory.SubFactory(StoredArchiveFactory)
    sender_code = AGENCY["agency_code"]
    created_at = factory.LazyFunction(timezone.now)
    created_on = factory.LazyAttribute(lambda d: timezone.localdate(d.created_at))
    same_day_count = factory.LazyAttribute(lambda d: _next_same_day_count(d.insurer, d.created_on))
    file_name = factory.LazyAttribute(
        lambda d: ArchiveName(d.sender_code, d.insurer.number, d.created_on, d.same_day_count, "1").filename
    )
    record_count = 0
    file_count = 0
    unit_total = 0
    payment_total = 0
    claim_total = 0

    @factory.post_generation
    def records(self, create: bool, extracted: list[Record] | None, **kwargs: Any) -> None:
        if not create or not extracted:
            return
        for record in extracted:
            DeliveryItemFactory(delivery=self, record=record, recount=False)
        delivery_recount(self)


class DeliveryItemFactory(factory.django.DjangoModelFactory):
    """An accepted record of the delivery's insurer inside the delivery, under its own member names."""

    class Meta:
        model = DeliveryItem
        skip_postgeneration_save = True

    delivery = factory.SubFactory(DeliveryFactory)
    record = factory.SubFactory(RecordFactory, insurer=factory.SelfAttribute("..delivery.insurer"))
    position = factory.LazyAttribute(lambda i: (i.delivery.items.aggregate(last=Max("position"))["last"] or 0) + 1)
    data_name = factory.LazyAttribute(lambda i: i.record.data_path)
    claim_name = factory.LazyAttribute(lambda i: i.record.claim_path)

    @factory.post_generation
    def recount(self, create: bool, extracted: bool | None, **kwargs: Any) -> None:
        """Bring the delivery's counts and totals up to date (``recount=False`` leaves them)."""
        if create and extracted is not False:
            delivery_recount(self.delivery)


class InsurerReturnFactory(factory.django.DjangoModelFactory):
    """An insurer's 過誤 of a routed record (a new routed record unless ``record`` is given), without
    the archive back to the institution unless ``archive`` is given."""

    class Meta:
        model = InsurerReturn
        skip_postgeneration_save = True

    record = factory.LazyFunction(lambda: DeliveryItemFactory().record)
    delivery = factory.LazyAttribute(lambda r: r.record.delivery_item.delivery)
    insurer = factory.LazyAttribute(lambda r: r.delivery.insurer)
    institution = factory.LazyAttribute(lambda r: r.record.institution)
    reason = InsurerReturnReason.NO_SUCH_PERSON
    returned_at = factory.LazyFunction(timezone.now)
    returned_label = "test"

    @factory.post_generation
    def record_returned(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            Record.objects.filter(pk=self.record.pk).update(status=RecordStatus.RETURNED)
            self.record.status = RecordStatus.RETURNED
