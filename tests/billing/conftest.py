"""Billing fixtures: the agency profile, records accepted and delivered at chosen moments, the guards."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from agency.demo import AGENCY
from agency.models import AgencyProfile, Institution, Insurer
from billing import dbguards
from billing.calendar import JST
from billing.models import AgencyBankAccount
from intake.models import Channel, Record, RecordStatus, StoredArchive, Submission, SubmissionStatus
from routing.models import Delivery, DeliveryItem, InsurerReturn

from ..factories import InstitutionFactory, InsurerFactory

_counter = itertools.count(1)
_billing_guards_removed = False


@pytest.fixture(autouse=True)
def _billing_guards(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[None]:
    """Like the audit guards in ``tests/conftest.py``: lifted before a transactional test's flush only."""
    global _billing_guards_removed
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
        or (marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    )
    if transactional:
        request.getfixturevalue("transactional_db")
    if _billing_guards_removed and (transactional or marker is not None or "db" in request.fixturenames):
        with django_db_blocker.unblock():
            dbguards.install(connection)
            if not connection.in_atomic_block:
                _billing_guards_removed = False
    yield
    if transactional:
        with django_db_blocker.unblock():
            dbguards.remove(connection)
        _billing_guards_removed = True


def at(text: str) -> dt.datetime:
    """An aware moment, Japan time: ``at("2025-03-05 23:59")``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


@pytest.fixture
def profile(db: Any) -> AgencyProfile:
    existing = AgencyProfile.objects.first()
    if existing is not None:
        return existing
    return AgencyProfile.objects.create(**AGENCY)


@pytest.fixture
def bank_account(db: Any) -> AgencyBankAccount:
    return AgencyBankAccount.objects.create(
        requester_code="1234567890", requester_name_kana="ﾎｰﾑﾈﾂﾄ(ｶ", bank_code="0005", bank_name_kana="ﾐﾂﾋﾞｼﾕｰｴﾌｼﾞｪｲ",
        branch_code="123", branch_name_kana="ﾅｶﾉ", account_type="1", account_number="7654321",
    )


def with_account(institution: Institution, n: int = 1) -> Institution:
    institution.bank_code = f"{n % 10000:04d}"
    institution.branch_code = f"{n % 1000:03d}"
    institution.account_type = Institution.AccountType.ORDINARY
    institution.account_number = f"{n % 10_000_000:07d}"
    institution.account_holder_kana = f"ｹﾝｼﾝｾﾝﾀｰ{n}"[:30]
    institution.save()
    return institution


@pytest.fixture
def parties(profile: AgencyProfile) -> dict[str, Any]:
    """Two insurers (contracts started long ago) and two institutions with bank accounts."""
    insurers = [InsurerFactory(contract_start=dt.date(2020, 4, 1)) for _ in range(2)]
    institutions = [with_account(InstitutionFactory(), n) for n in (1, 2)]
    return {"insurers": insurers, "institutions": institutions}


def make_submission(institution: Institution, received_at: dt.datetime) -> Submission:
    n = next(_counter)
    archive = StoredArchive.objects.create(sha256=hashlib.sha256(f"billing-{n}".encode()).hexdigest(), size=1)
    return Submission.objects.create(
        receipt_number=f"RB{n:010d}", archive=archive, file_name=f"b{n}.zip", institution=institution,
        channel=Channel.UPLOAD, received_at=received_at, rule_set="test", status=SubmissionStatus.ACCEPTED,
        checked_at=received_at,
    )


def make_record(
    *, insurer: Insurer, institution: Institution, claim_amount: int, checked_at: dt.datetime,
    checkup_date: dt.date | None = None, status: str = RecordStatus.ACCEPTED, submission: Submission | None = None,
) -> Record:
    n = next(_counter)
    submission = submission or make_submission(institution, checked_at)
    return Record.objects.create(
        submission=submission, position=n, institution=institution, insurer=insurer, insurer_number=insurer.number,
        ticket_number=f"9{n:010d}"[:11], checkup_date=checkup_date or checked_at.astimezone(JST).date(),
        claim_path=f"CLAIMS/c{n}.xml", data_path=f"DATA/h{n}.xml", status=status, claim_amount=claim_amount,
        unit_amount=claim_amount, checked_at=checked_at,
    )


def deliver(records: list[Record], *, insurer: Insurer, at_: dt.datetime) -> Delivery:
    n = next(_counter)
    archive = StoredArchive.objects.create(sha256=hashlib.sha256(f"delivery-{n}".encode()).hexdigest(), size=1)
    delivery = Delivery.objects.create(
        insurer=insurer, archive=archive, file_name=f"d{n}.zip", sender_code="91399055", created_on=at_.date(),
        same_day_count=Delivery.objects.filter(insurer=insurer, created_on=at_.date()).count(), record_count=len(records), file_count=2 * len(records), unit_total=0, payment_total=0,
        claim_total=sum(r.claim_amount for r in records), created_at=at_,
    )
    for position, record in enumerate(records, start=1):
        DeliveryItem.objects.create(delivery=delivery, record=record, position=position, data_name=f"h{record.pk}", claim_name=f"c{record.pk}")
    return delivery


def insurer_return(record: Record, *, at_: dt.datetime, reason: str = "04") -> InsurerReturn:
    item = DeliveryItem.objects.get(record=record)
    returned = InsurerReturn.objects.create(
        record=record, delivery=item.delivery, insurer=item.delivery.insurer, institution=record.institution,
        reason=reason, returned_at=at_, returned_label="test",
    )
    Record.objects.filter(pk=record.pk).update(status=RecordStatus.RETURNED)
    return returned


@pytest.fixture
def records_factory(parties: dict[str, Any]) -> Callable[..., Record]:
    return make_record


def now_is(moment: dt.datetime) -> Any:
    """Freeze the clock (time-machine) at an aware moment."""
    import time_machine

    return time_machine.travel(moment, tick=False)


def local_today() -> dt.date:
    return timezone.localdate()
