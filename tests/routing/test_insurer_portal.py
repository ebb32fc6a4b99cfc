"""The insurer portal, the institution's view of 過誤, the clerks' routing pages and notification settings.

Data come from generated archives checked by intake and routed (``helpers.py``), whose
``routed_sample`` (minimal own-tenant objects without archives, for the permission matrix) is
checked here too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
from decimal import Decimal
from typing import Any

import pytest
import pyzipper
from django.core import mail
from django.test import Client
from django.urls import reverse

from agency.models import Role, User
from audit.models import AuditEvent, Outcome
from intake import reading as intake_reading
from intake.models import NotificationPreference, Record, RecordStatus, Submission
from kenshin.items import Judgement, item_master
from kenshin.reader import read_archive
from routing.models import Delivery, DeliveryChannel, DeliveryItem, DeliveryStatus, InsurerReturn
from routing.services import returns

from ..conftest import login_verified
from ..factories import InstitutionFactory, InsurerFactory, UserFactory
from .helpers import Intaken, intake_generated, route, routed_sample


@pytest.fixture
def routed(db: Any, capture: Any) -> tuple[list[Intaken], list[Delivery]]:
    intaken = intake_generated(capture, records=10, seed=301, institutions=2, insurers=3)
    return intaken, route(capture)


@pytest.fixture
def delivery(routed: tuple[list[Intaken], list[Delivery]]) -> Delivery:
    return max(routed[1], key=lambda d: d.record_count)


@pytest.fixture
def other_delivery(routed: tuple[list[Intaken], list[Delivery]], delivery: Delivery) -> Delivery:
    return next(d for d in routed[1] if d.insurer_id != delivery.insurer_id)


def _client(role: str, **kwargs: Any) -> tuple[Client, User]:
    user = UserFactory(role=role, **kwargs)
    return login_verified(Client(), user), user


@pytest.fixture
def insurer_staff(delivery: Delivery) -> tuple[Client, User]:
    return _client(Role.INSURER_STAFF, insurer=delivery.insurer, email="hoken@example.jp")


@pytest.fixture
def other_insurer_staff(other_delivery: Delivery) -> tuple[Client, User]:
    return _client(Role.INSURER_STAFF, insurer=other_delivery.insurer)


@pytest.fixture
def clerk(db: Any) -> Client:
    return _client(Role.AGENCY_CLERK)[0]


def _denied(client: Client, url: str, object_type: str, ident: int, *, method: str = "get", data: Any = None) -> None:
    before = AuditEvent.objects.filter(outcome=Outcome.DENIED).count()
    response = getattr(client, method)(url, data or {})
    assert response.status_code == 404, (url, response.status_code)
    denied = AuditEvent.objects.filter(outcome=Outcome.DENIED).order_by("-seq")
    assert denied.count() == before + 1, url
    event = denied.first()
    assert (event.object_type, event.object_ids, event.path) == (object_type, [str(ident)], url)


# --- deliveries -------------------------------------------------------------------------------------------


def test_deliveries_list_shows_only_the_insurers_own(
    insurer_staff: tuple[Client, User], delivery: Delivery, other_delivery: Delivery
) -> None:
    page = insurer_staff[0].get(reverse("insurer:delivery_list")).content.decode()
    assert delivery.file_name in page and other_delivery.file_name not in page


def test_download_marks_downloaded_by_whom_when_from_where_and_is_audited_as_export(
    insurer_staff: tuple[Client, User], delivery: Delivery
) -> None:
    client, user = insurer_staff
    response = client.get(reverse("insurer:delivery_download", args=[delivery.pk]), REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert delivery.file_name in response["Content-Disposition"]
    assert hashlib.sha256(response.content).hexdigest() == delivery.archive.sha256
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DOWNLOADED
    [download] = delivery.downloads.all()
    assert (download.user, download.ip, download.channel) == (user, "198.51.100.7", DeliveryChannel.WEB)
    export = AuditEvent.objects.get(action="routing.delivery.export")
    assert export.outcome == Outcome.SUCCESS and export.actor_id == user.pk
    assert (export.object_type, export.object_ids) == ("delivery", [str(delivery.pk)])
    assert export.detail["records"] == delivery.record_count and export.ip == "198.51.100.7"
    page = client.get(reverse("insurer:delivery_detail", args=[delivery.pk])).content.decode()
    assert "198.51.100.7" in page and user.username in page


def test_acknowledge_from_the_page(insurer_staff: tuple[Client, User], delivery: Delivery) -> None:
    client, user = insurer_staff
    url = reverse("insurer:delivery_acknowledge", args=[delivery.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"confirm": "True"}).status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.ACKNOWLEDGED and delivery.acknowledged_by == user


def test_clerks_see_deliveries_but_cannot_download_them(clerk: Client, delivery: Delivery) -> None:
    assert clerk.get(reverse("insurer:delivery_detail", args=[delivery.pk])).status_code == 200
    assert clerk.get(reverse("insurer:delivery_download", args=[delivery.pk])).status_code == 403
    assert not delivery.downloads.exists()


# --- records: search and the reading page ---------------------------------------------------------------------


def test_record_search_by_ticket_name_birth_date_institution_and_checkup_date(
    insurer_staff: tuple[Client, User], delivery: Delivery, other_delivery: Delivery
) -> None:
    client = insurer_staff[0]
    url = reverse("insurer:record_search")
    record = delivery.items.select_related("record").first().record
    foreign = other_delivery.items.first().record

    def found(**query: Any) -> set[int]:
        response = client.get(url, query)
        assert response.status_code == 200
        return {r.pk for r in response.context["page"]}

    assert record.pk in found(ticket_number=record.ticket_number)
    assert found(ticket_number=foreign.ticket_number) == set()
    family = record.name_kana.split()[0]
    assert record.pk in found(name_kana=f"\u3000{family}\u3000")  # full-width spaces around a part of the name
    full_width = unicodedata.normalize("NFKC", family)
    assert record.pk in found(name_kana=full_width)  # typed in full-width, stored as the institution wrote it
    assert record.pk in found(birth_date=record.birth_date.isoformat())
    assert record.pk in found(institution=record.institution_id)
    assert record.pk in found(checkup_from=record.checkup_date.isoformat(), checkup_to=record.checkup_date.isoformat())
    assert record.pk not in found(checkup_from=(record.checkup_date + dt.timedelta(days=1)).isoformat())
    everything = found()
    assert everything == set(Record.objects.filter(delivery_item__delivery__insurer=delivery.insurer).values_list("pk", flat=True))
    event = AuditEvent.objects.filter(action="routing.record.search").order_by("-seq").first()
    assert event.object_type == "record"


def test_record_page_reads_like_a_report(insurer_staff: tuple[Client, User], delivery: Delivery) -> None:
    client = insurer_staff[0]
    record = delivery.items.first().record
    response = client.get(reverse("insurer:record_detail", args=[record.pk]))
    assert response.status_code == 200
    reading = response.context["reading"]
    assert reading["readable"] and reading["person"]["name_kana"] == record.name_kana
    names = [group["name"] for group in reading["groups"]]
    assert names[:2] == ["身体計測", "血圧等"]
    master = item_master()
    checkup, claim = intake_reading.record_documents(record)
    assert checkup is not None and claim is not None
    rows = {row["code"]: row for group in reading["groups"] for row in group["rows"]}
    checked = 0
    for observation in checkup.observations():
        definition = master.get(observation.code) if observation.code else None
        if definition is None or observation.xml_type != "PQ" or observation.value is None or not definition.direction:
            continue
        judgement = definition.judge(Decimal(observation.value), checkup.subject.sex)
        expected = "" if judgement is Judgement.NORMAL else ("L" if definition.direction == "low" else "H")
        assert rows[observation.code]["flag"] == expected, observation.code
        assert rows[observation.code]["level"] == ("" if judgement is Judgement.NORMAL else judgement.value)
        checked += 1
    assert checked >= 5
    blood_pressure = next(row for row in rows.values() if row["code"].startswith("9A75"))
    assert blood_pressure["unit"] == "mmHg"
    assert reading["metabolic"] and reading["guidance_level"]
    assert reading["claim"]["claim_amount"] == claim.settlement.claim_amount == record.claim_amount
    page = response.content.decode()
    assert "保健指導レベル" in page and "メタボリックシンドローム判定" in page and "mmHg" in page
    assert [step.key for step in response.context["timeline"]][:3] == ["received", "checked", "routed"]
    event = AuditEvent.objects.get(action="routing.record.view")
    assert event.object_ids == [str(record.pk)]


# --- 過誤 ------------------------------------------------------------------------------------------------------


def test_insurer_returns_a_record_and_the_institution_gets_the_archive(
    capture: Any, insurer_staff: tuple[Client, User], delivery: Delivery
) -> None:
    client = insurer_staff[0]
    record = delivery.items.first().record
    institution_client, institution_user = _client(Role.INSTITUTION_STAFF, institution=record.institution, email="k@example.jp")
    other_institution = _client(Role.INSTITUTION_STAFF, institution=InstitutionFactory())[0]
    url = reverse("insurer:record_return", args=[record.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"reason": "09", "note": ""}).status_code == 200  # その他 needs a note
    with capture(execute=True):
        response = client.post(url, {"reason": "03", "note": "氏名の誤り"})
    assert response.status_code == 302
    returned = InsurerReturn.objects.get(record=record)
    record.refresh_from_db()
    assert record.status == RecordStatus.RETURNED
    assert [m.to for m in mail.outbox if "過誤返戻" in m.subject] == [[institution_user.email]]

    listing = institution_client.get(reverse("insurer:return_list"))
    assert returned in list(listing.context["page"])
    assert returned.archive_file_name in listing.content.decode()
    assert len(other_institution.get(reverse("insurer:return_list")).context["page"]) == 0
    download = institution_client.get(reverse("insurer:return_archive", args=[returned.pk]))
    assert download.status_code == 200
    result = read_archive(download.content, filename=returned.archive_file_name, master=None)
    assert result.index.interaction_type == "2" and result.claims[0].record.insurer_result.reason_code == "03"
    assert AuditEvent.objects.filter(action="routing.return.export", actor_id=institution_user.pk).exists()
    # The return page of a returned record says so instead of offering the form again.
    again = client.get(url)
    assert again.context["existing"] == returned and again.context["form"] is None


# --- media, routing pages, notifications -----------------------------------------------------------------------


def test_clerk_prepares_media_sees_the_password_once_and_records_the_tracking_number(clerk: Client, delivery: Delivery) -> None:
    url = reverse("insurer:delivery_media", args=[delivery.pk])
    assert clerk.get(url).status_code == 200
    response = clerk.post(url, {"prepare-confirm": "on"})
    assert response.status_code == 200
    password = response.context["password"]
    assert re.fullmatch(r"([A-Za-z0-9]{4}-){4}[A-Za-z0-9]{4}", password)
    assert password in response.content.decode()
    assert password not in clerk.get(url).content.decode()
    delivery.refresh_from_db()
    assert delivery.media_password_locked and password not in delivery.media_password_hash
    archive = clerk.get(reverse("insurer:delivery_media_archive", args=[delivery.pk]))
    with pyzipper.AESZipFile(io.BytesIO(archive.content)) as opened:
        opened.setpassword(password.encode())
        assert opened.testzip() is None
    assert clerk.post(url, {"tracking-tracking_number": "4455-6677-8899"}).status_code == 302
    delivery.refresh_from_db()
    assert delivery.media_tracking_number == "4455-6677-8899"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"routing.delivery.media_prepared", "routing.delivery.media_export", "routing.delivery.media_shipped"} <= actions


def test_route_now_and_the_dry_run(capture: Any, db: Any, clerk: Client) -> None:
    [intaken] = intake_generated(capture, records=5, seed=311, insurers=2)
    submission = intaken.submission
    dry_run = clerk.get(reverse("insurer:routing_dry_run", args=[submission.pk]))
    assert dry_run.status_code == 200
    assert {row.code for row in dry_run.context["rows"]} == {"will_route"}
    overview = clerk.get(reverse("insurer:routing_run"))
    assert sum(row["records"] for row in overview.context["overview"]) == 5
    with capture(execute=True):
        response = clerk.post(reverse("insurer:routing_run"), {"confirm": "True"})
    assert response.status_code == 302
    assert DeliveryItem.objects.filter(record__submission=submission).count() == 5
    assert {row.code for row in clerk.get(reverse("insurer:routing_dry_run", args=[submission.pk])).context["rows"]} == {"routed"}
    assert AuditEvent.objects.filter(action="routing.run").exclude(actor_id=None).exists()


def test_insurer_staff_cannot_route(insurer_staff: tuple[Client, User]) -> None:
    assert insurer_staff[0].post(reverse("insurer:routing_run"), {"confirm": "True"}).status_code == 403


def test_notification_opt_out_is_saved_and_audited(db: Any) -> None:
    client, user = _client(Role.INSURER_STAFF, insurer=InsurerFactory())
    url = reverse("insurer:notification_settings")
    assert list(client.get(url).context["form"].fields) == ["delivery"]
    assert client.post(url, {}).status_code == 302
    assert NotificationPreference.objects.get(user=user).opt_out_delivery
    event = AuditEvent.objects.get(action="notification.preference.changed")
    assert event.detail["new"]["delivery"] is True
    assert client.post(url, {"delivery": "on"}).status_code == 302
    assert not NotificationPreference.objects.get(user=user).opt_out_delivery


# --- isolation: another insurer or institution gets 404, and the attempt is audited ----------------------------


def test_another_insurer_gets_404_and_an_audited_denial_on_every_page(
    other_insurer_staff: tuple[Client, User], delivery: Delivery
) -> None:
    client = other_insurer_staff[0]
    record = delivery.items.first().record
    for name in ("delivery_detail", "delivery_download", "delivery_acknowledge"):
        _denied(client, reverse(f"insurer:{name}", args=[delivery.pk]), "delivery", delivery.pk)
    _denied(client, reverse("insurer:delivery_acknowledge", args=[delivery.pk]), "delivery", delivery.pk,
            method="post", data={"confirm": "True"})
    for name in ("record_detail", "record_return"):
        _denied(client, reverse(f"insurer:{name}", args=[record.pk]), "record", record.pk)
    _denied(client, reverse("insurer:record_return", args=[record.pk]), "record", record.pk,
            method="post", data={"reason": "04", "note": ""})
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.READY and not delivery.downloads.exists()
    assert not InsurerReturn.objects.exists()


def test_another_insurer_or_institution_gets_404_for_a_return_and_it_is_audited(
    capture: Any, insurer_staff: tuple[Client, User], other_insurer_staff: tuple[Client, User], delivery: Delivery
) -> None:
    record = delivery.items.first().record
    with capture(execute=True):
        returned = returns.insurer_return_create(record=record, reason="04", note="", actor=insurer_staff[1])
    url = reverse("insurer:return_archive", args=[returned.pk])
    stranger_institution = _client(Role.INSTITUTION_STAFF, institution=InstitutionFactory())[0]
    for client in (other_insurer_staff[0], stranger_institution):
        _denied(client, url, "insurer_return", returned.pk)
        assert returned.archive_file_name not in client.get(reverse("insurer:return_list")).content.decode()
    own_institution = _client(Role.INSTITUTION_STAFF, institution=record.institution)[0]
    assert own_institution.get(url).status_code == 200


def test_institution_staff_and_auditors_have_no_insurer_pages(delivery: Delivery, db: Any) -> None:
    institution_client = _client(Role.INSTITUTION_STAFF, institution=InstitutionFactory())[0]
    auditor = _client(Role.AUDITOR)[0]
    record = delivery.items.first().record
    for client in (institution_client, auditor):
        assert client.get(reverse("insurer:delivery_list")).status_code == 403
        assert client.get(reverse("insurer:record_detail", args=[record.pk])).status_code == 403
        assert client.get(reverse("insurer:delivery_download", args=[delivery.pk])).status_code == 403


def test_sample_builder_for_the_permission_matrix(insurer_a: Any, institution_a: Any) -> None:
    ids = routed_sample(insurer_a, institution_a)
    client = login_verified(Client(), UserFactory(role=Role.INSURER_STAFF, insurer=insurer_a))
    for name, key in (("delivery_detail", "delivery"), ("delivery_download", "delivery"), ("delivery_acknowledge", "delivery"),
                      ("record_detail", "record"), ("record_return", "record"), ("return_archive", "insurer_return")):
        assert client.get(reverse(f"insurer:{name}", args=[ids[key]])).status_code == 200, name
    institution = login_verified(Client(), UserFactory(role=Role.INSTITUTION_STAFF, institution=institution_a))
    assert institution.get(reverse("insurer:return_archive", args=[ids["insurer_return"]])).status_code == 200
    assert Submission.objects.filter(pk=ids["submission"]).exists()


# --- query counts: list pages do not grow with their rows -----------------------------------------------------


def test_list_pages_use_a_fixed_number_of_queries(
    capture: Any, insurer_staff: tuple[Client, User], delivery: Delivery, django_assert_max_num_queries: Any
) -> None:
    client, user = insurer_staff
    for item in delivery.items.select_related("record")[:3]:
        with capture(execute=True):
            returns.insurer_return_create(record=item.record, reason="04", note="", actor=user)
    assert delivery.record_count >= 4
    # Bounds a little above what the pages need today; one query per row would exceed them.
    for name, queries in (("delivery_list", 14), ("record_search", 20), ("return_list", 20)):
        with django_assert_max_num_queries(queries):
            assert client.get(reverse(f"insurer:{name}")).status_code == 200
    with django_assert_max_num_queries(24):
        assert client.get(reverse("insurer:delivery_detail", args=[delivery.pk])).status_code == 200
