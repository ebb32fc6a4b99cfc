"""Billing fixtures: the agency profile, parties with bank accounts, records accepted at chosen moments, the guards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from agency.demo import AGENCY
from agency.models import AgencyProfile, Institution, Insurer
from billing import dbguards
from billing.calendar import JST
from billing.models import AgencyBankAccount
from intake.models import Record, RecordStatus

from ..factories import AgencyProfileFactory, InstitutionFactory, InsurerFactory, RecordFactory, SubmissionFactory

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
    return AgencyProfileFactory(**AGENCY)


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


def make_record(
    *, insurer: Insurer, institution: Institution, claim_amount: int, checked_at: dt.datetime,
    checkup_date: dt.date | None = None, status: str = RecordStatus.ACCEPTED,
) -> Record:
    """A record of ``institution`` for ``insurer``, checked (accepted unless told otherwise) at ``checked_at``
    in a submission of its own; the checkup was that day unless ``checkup_date`` says otherwise."""
    return RecordFactory(
        submission=SubmissionFactory(institution=institution, received_at=checked_at), insurer=insurer,
        claim_amount=claim_amount, status=status, checked_at=checked_at,
        checkup_date=checkup_date or checked_at.astimezone(JST).date(),
    )


def now_is(moment: dt.datetime) -> Any:
    """Freeze the clock (time-machine) at an aware moment."""
    import time_machine

    return time_machine.travel(moment, tick=False)


def local_today() -> dt.date:
    return timezone.localdate()
