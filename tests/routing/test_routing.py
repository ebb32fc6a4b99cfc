"""振分: generated archives through intake, then into deliveries per insurer; 過誤 back to institutions.

Archives come from the synthetic generator with their parties loaded into the database (as in
``test_pipeline``); checking runs in-process (eager Celery, on-commit callbacks executed), through
the helpers of ``helpers.py``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from agency.demo import seed_demo
from agency.models import Institution, Insurer, Role
from agency.services import synthetic_parties_load
from audit.models import AuditEvent
from audit.selectors import audit_chain_verify
from intake import pipeline, timeline
from intake import reading as intake_reading
from intake.models import (
    Channel,
    NotificationPreference,
    NotificationSent,
    Record,
    RecordStatus,
    Submission,
    SubmissionStatus,
)
from intake.services.receive import submission_receive
from kenshin.assemble import build_submission
from kenshin.codes import OID_AGENCY, OID_INSTITUTION, OID_INSURER
from kenshin.naming import ArchiveName, MemberName
from kenshin.reader import ReadResult, read_archive
from kenshin.synth.generator import GeneratorConfig, default_parties, generate
from kenshin.writer import write_archive
from routing import packing, selectors
from routing import timeline as routing_timeline
from routing.models import Delivery, DeliveryChannel, DeliveryDownload, DeliveryItem, DeliveryStatus, InsurerReturn
from routing.services import deliveries as delivery_services
from routing.services import returns
from routing.tasks import route_deliveries_task

from ..factories import (
    DeliveryFactory,
    DeliveryItemFactory,
    InsurerReturnFactory,
    RecordFactory,
    SubmissionFactory,
    UserFactory,
)
from .helpers import AGENCY, Intaken, intake_generated, receive, route

NAME_RE = r"^91399055_[0-9]{8}_[0-9]{8}[0-9]_1\.zip$"


# --- helpers ---------------------------------------------------------------------------------------------


def read_delivery(delivery: Delivery, *, xsd_dir: str | None = None) -> ReadResult:
    from intake import storage

    return read_archive(storage.read(delivery.archive.sha256), filename=delivery.file_name, xsd_dir=xsd_dir, master=None)


def xsd_dir_or_skip() -> str:
    directory = settings.KENSHIN_XSD_DIR or os.environ.get("KENSHIN_XSD_DIR", "")
    if not directory:
        pytest.skip("KENSHIN_XSD_DIR is not set: the official MHLW XSDs are not shipped with the code, so schema validity "
                    "of deliveries is asserted only where they are configured (CI)")
    return directory


def resend(capture: Any, intaken: Intaken, *, count: int = 1) -> Intaken:
    """The same archive contents sent again under a later same-day count (other bytes)."""
    original = intaken.archive.submission
    later = replace(original, name=replace(original.name, same_day_count=original.name.same_day_count + count))
    return receive(capture, intaken.archive, file_name=later.name.filename, data=write_archive(later))


@pytest.fixture
def routed(db: Any, capture: Any) -> tuple[list[Intaken], list[Delivery]]:
    intaken = intake_generated(capture, records=16, seed=21, institutions=2)
    return intaken, route(capture)


def _accepted_by_insurer() -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for pk, insurer_id in Record.objects.filter(status=RecordStatus.ACCEPTED).values_list("pk", "insurer_id"):
        found.setdefault(insurer_id, set()).add(pk)
    return found


# --- routing ----------------------------------------------------------------------------------------------


def test_accepted_records_are_routed_once_per_insurer(routed: tuple[list[Intaken], list[Delivery]]) -> None:
    intaken, deliveries = routed
    assert all(i.submission.status == SubmissionStatus.ACCEPTED for i in intaken)
    accepted = _accepted_by_insurer()
    assert {d.insurer_id for d in deliveries} == set(accepted)
    for delivery in deliveries:
        inside = set(delivery.items.values_list("record_id", flat=True))
        assert inside == accepted[delivery.insurer_id]
        assert delivery.record_count == len(inside) and delivery.file_count == 2 * len(inside)
        records = Record.objects.filter(pk__in=inside)
        assert delivery.claim_total == sum(r.claim_amount for r in records)
        assert delivery.status == DeliveryStatus.READY
    assert DeliveryItem.objects.count() == Record.objects.filter(status=RecordStatus.ACCEPTED).count()


def test_each_delivery_is_a_type_3_archive_from_the_agency_to_its_insurer(routed: tuple[list[Intaken], list[Delivery]]) -> None:
    _, deliveries = routed
    for delivery in deliveries:
        assert delivery.file_name == f"{AGENCY}_{delivery.insurer.number}_{delivery.created_on:%Y%m%d}{delivery.same_day_count}_1.zip"
        result = read_delivery(delivery)
        blocking = [(f.code, f.file, f.detail) for f in result.findings if f.blocking]
        assert blocking == []
        index = result.index
        assert index is not None and index.interaction_type == "3"
        assert (index.sender.root, index.sender.extension) == (OID_AGENCY, AGENCY)
        assert index.receiver is not None and (index.receiver.root, index.receiver.extension) == (OID_INSURER, delivery.insurer.number)
        assert index.service_event_type == "1"
        assert result.root == delivery.file_name[:-4]
        # ix08 counts exactly the files inside; su08 sums exactly the claims inside.
        assert index.total_record_count == len(result.checkups) + len(result.claims) == delivery.file_count
        summary = result.summary
        claims = [member.record.settlement for member in result.claims]
        assert summary is not None and summary.total_subject_count == delivery.record_count
        assert summary.total_cost_amount == sum(c.unit_amount for c in claims) == delivery.unit_total
        assert summary.total_payment_amount == sum(c.payment_amount for c in claims) == delivery.payment_total
        assert summary.total_claim_amount == sum(c.claim_amount for c in claims) == delivery.claim_total
        # h and c paired by name; every name follows the naming rule; every person is this insurer's.
        assert sorted(m.stem for m in result.checkups) == sorted(m.stem for m in result.claims)
        for member in (*result.checkups, *result.claims):
            assert MemberName.parse(member.path.rsplit("/", 1)[-1]) is not None
        assert {m.record.subject.insurer_number for m in result.checkups} == {delivery.insurer.number}
        assert {m.record.subject.insurer_number for m in result.claims} == {delivery.insurer.number}


def test_the_insurer_gets_the_institutions_files_as_received(routed: tuple[list[Intaken], list[Delivery]]) -> None:
    _, deliveries = routed
    from intake import storage

    for delivery in deliveries:
        with pyzipper.AESZipFile(io.BytesIO(storage.read(delivery.archive.sha256))) as archive:
            root = delivery.file_name[:-4]
            for item in delivery.items.select_related("record__submission__archive"):
                original = intake_reading.read_members(item.record.submission, [item.record.data_path, item.record.claim_path])
                assert archive.read(f"{root}/{item.data_name}") == original[item.record.data_path]
                assert archive.read(f"{root}/{item.claim_name}") == original[item.record.claim_path]


def test_every_delivery_validates_against_the_official_xsds(routed: tuple[list[Intaken], list[Delivery]]) -> None:
    directory = xsd_dir_or_skip()
    _, deliveries = routed
    for delivery in deliveries:
        result = read_delivery(delivery, xsd_dir=directory)
        assert [f for f in result.findings if f.code.startswith("XML_SCHEMA")] == []
        assert result.files and all(report.schema_valid is True for report in result.files), delivery.file_name


def test_routing_twice_adds_nothing(capture: Any, routed: tuple[list[Intaken], list[Delivery]]) -> None:
    _, deliveries = routed
    before = (Delivery.objects.count(), DeliveryItem.objects.count())

    assert route(capture) == []
    assert route_deliveries_task.delay().get() == []
    assert (Delivery.objects.count(), DeliveryItem.objects.count()) == before
    assert AuditEvent.objects.filter(action="routing.delivery.created").count() == len(deliveries)
    assert audit_chain_verify() is None


def test_a_record_sits_in_one_delivery_only_by_database_constraint(routed: tuple[list[Intaken], list[Delivery]]) -> None:
    _, deliveries = routed
    item = deliveries[0].items.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryItemFactory(delivery=deliveries[-1], record=item.record, position=999, data_name="DATA/x.xml", claim_name="CLAIMS/x.xml")


def test_new_records_go_into_a_second_delivery_with_the_next_same_day_count(capture: Any, db: Any) -> None:
    seed_demo()
    config = GeneratorConfig(year=2024, records=5, seed=31, institutions=2, insurers=1, agency_number=AGENCY)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    first_archive, second_archive = generate(config, parties)
    receive(capture, first_archive)
    [delivery] = route(capture)
    assert delivery.same_day_count == 0
    # More checkups for the same insurer arrive later the same day.
    second = receive(capture, second_archive)
    assert second.submission.records_accepted == 5
    [next_delivery] = route(capture)
    assert next_delivery.insurer_id == delivery.insurer_id
    assert next_delivery.same_day_count == 1
    assert next_delivery.file_name.endswith(f"{next_delivery.created_on:%Y%m%d}1_1.zip")
    assert set(next_delivery.items.values_list("record__submission", flat=True)) == {second.submission.pk}


def test_the_same_day_count_limits_deliveries_to_ten_a_day(capture: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    [intaken] = intake_generated(capture, records=12, seed=41, insurers=1)
    monkeypatch.setattr(delivery_services, "MAX_RECORDS_PER_DELIVERY", 1)
    created = route(capture)
    assert [d.same_day_count for d in created] == list(range(10))
    rows = selectors.routing_plan(intaken.submission)
    assert Counter(row.code for row in rows) == {"routed": 10, "daily_limit": 2}


def test_member_names_are_kept_when_free_and_renamed_when_taken() -> None:
    @dataclass
    class _Record:
        data_path: str
        claim_path: str = "CLAIMS/c.xml"
        kind: str = "checkup"

    name = ArchiveName(AGENCY, "01130012", __import__("datetime").date(2026, 4, 1), 3, "1")
    fresh_serials = iter(range(1, 100))

    def fresh(record: Any) -> MemberName:
        return MemberName("h", "2813300114", name.submitted_on, name.same_day_count, "1", next(fresh_serials))

    used: set[str] = set()
    kept = packing._member_names(_Record("DATA/h28133001142024052701000001.xml"), used, fresh)  # type: ignore[arg-type]
    clash = packing._member_names(_Record("DATA/h28133001142024052701000001.xml"), used, fresh)  # type: ignore[arg-type]
    vendor = packing._member_names(_Record("DATA/h28133035892024052701_0059_00280081.xml"), used, fresh)  # type: ignore[arg-type]
    assert kept == ("DATA/h28133001142024052701000001.xml", "CLAIMS/c28133001142024052701000001.xml")
    assert clash == ("DATA/h28133001142026040131000001.xml", "CLAIMS/c28133001142026040131000001.xml")
    assert vendor == ("DATA/h28133001142026040131000002.xml", "CLAIMS/c28133001142026040131000002.xml")


def test_returned_records_and_inactive_insurers_are_not_routed_and_the_dry_run_says_why(capture: Any, db: Any) -> None:
    [intaken] = intake_generated(capture, records=12, seed=51, defects=("copay_mismatch", "unknown_insurer"))
    submission = intaken.submission
    assert submission.status == SubmissionStatus.PARTIALLY_ACCEPTED
    accepted = list(submission.records.filter(status=RecordStatus.ACCEPTED).select_related("insurer"))
    paused = accepted[0].insurer
    Insurer.objects.filter(pk=paused.pk).update(is_active=False)

    plan = {row.record.pk: row for row in selectors.routing_plan(submission)}
    codes = Counter(row.code for row in plan.values())
    assert codes["returned"] == submission.records_returned
    assert codes["insurer_inactive"] == sum(1 for r in accepted if r.insurer_id == paused.pk)
    assert codes["will_route"] == sum(1 for r in accepted if r.insurer_id != paused.pk)
    predicted = {row.record.pk: row.file_name for row in plan.values() if row.routable}
    assert all(name.startswith(f"{AGENCY}_") for name in predicted.values())

    deliveries = route(capture)
    assert paused.pk not in {d.insurer_id for d in deliveries}
    for record_id, file_name in predicted.items():
        assert DeliveryItem.objects.get(record_id=record_id).delivery.file_name == file_name
    after = Counter(row.code for row in selectors.routing_plan(submission))
    assert after["routed"] == len(predicted) and after["returned"] == codes["returned"]
    assert not DeliveryItem.objects.filter(record__status=RecordStatus.RETURNED).exists()


def test_records_wait_until_the_whole_submission_is_checked(capture: Any, db: Any) -> None:
    [intaken] = intake_generated(capture, records=4, seed=61)
    Submission.objects.filter(pk=intaken.submission.pk).update(status=SubmissionStatus.CHECKING)
    assert route(capture) == []
    assert {row.code for row in selectors.routing_plan(Submission.objects.get(pk=intaken.submission.pk))} == {"submission_checking"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_route_each_record_once(settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers itself, so there is no row-lock race to test")
    from django.test.utils import CaptureQueriesContext  # noqa: F401 - keeps the import graph identical on both backends

    seed_demo()
    config = GeneratorConfig(year=2024, records=20, seed=71, institutions=2, agency_number=AGENCY)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    for archive in generate(config, parties):
        received = submission_receive(
            source=archive.data, file_name=archive.filename, institution=Institution.objects.get(number=archive.institution),
            channel=Channel.MEDIA, enqueue=False,
        )
        pipeline.process_inline(received.submission.pk)
    barrier = threading.Barrier(3)
    results: list[Any] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(delivery_services.deliveries_route())
        except Exception as error:  # collected and asserted below
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    routed_ids = list(DeliveryItem.objects.values_list("record_id", flat=True))
    assert len(routed_ids) == len(set(routed_ids)) == Record.objects.filter(status=RecordStatus.ACCEPTED).count()
    assert sum(len(r) for r in results) == Delivery.objects.count()


# --- downloads, acknowledgement, media ------------------------------------------------------------------------


def test_download_is_recorded_and_audited(routed: tuple[list[Intaken], list[Delivery]], make_user: Callable[..., Any]) -> None:
    _, deliveries = routed
    delivery = deliveries[0]
    user = make_user(Role.INSURER_STAFF, insurer=delivery.insurer)

    data = delivery_services.delivery_download(delivery=delivery, actor=user, request=None, channel=DeliveryChannel.WEB)
    assert __import__("hashlib").sha256(data).hexdigest() == delivery.archive.sha256
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DOWNLOADED and delivery.downloaded_at is not None
    [download] = delivery.downloads.all()
    assert (download.user, download.channel, download.actor_label) == (user, DeliveryChannel.WEB, user.username)
    event = AuditEvent.objects.get(action="routing.delivery.downloaded")
    assert event.object_ids == [str(delivery.pk)] and event.actor_id == user.pk

    acknowledged = delivery_services.delivery_acknowledge(delivery=delivery, actor=user)
    again = delivery_services.delivery_acknowledge(delivery=delivery, actor=user)
    assert acknowledged.status == again.status == DeliveryStatus.ACKNOWLEDGED
    assert acknowledged.acknowledged_at == again.acknowledged_at
    assert AuditEvent.objects.filter(action="routing.delivery.acknowledged").count() == 1


def test_media_copy_is_aes_locked_with_a_password_kept_only_hashed(
    routed: tuple[list[Intaken], list[Delivery]], make_user: Callable[..., Any]
) -> None:
    _, deliveries = routed
    delivery = deliveries[0]
    clerk = make_user(Role.AGENCY_CLERK)

    prepared, password = delivery_services.delivery_media_prepare(delivery=delivery, actor=clerk)
    assert prepared.media_password_locked and check_password(password, prepared.media_password_hash)
    assert password not in prepared.media_password_hash
    assert password not in json.dumps(list(AuditEvent.objects.values_list("detail", flat=True)), ensure_ascii=False)
    data = delivery_services.delivery_media_download(delivery=prepared, actor=clerk)
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        first = next(name for name in archive.namelist() if name.endswith("ix08_V08.xml"))
        assert archive.getinfo(first).flag_bits & 0x1  # encrypted (WinZip AES, pyzipper)
        with pytest.raises(RuntimeError):
            archive.read(first)
        archive.setpassword(password.encode())
        assert b"interactionType" in archive.read(first)
    shipped = delivery_services.delivery_media_ship(delivery=prepared, tracking_number="1234-5678-9012", actor=clerk)
    assert shipped.media_tracking_number == "1234-5678-9012" and shipped.media_shipped_at is not None
    event = AuditEvent.objects.get(action="routing.delivery.media_shipped")
    assert event.detail == {"old": "", "new": "1234-5678-9012"}
    # Writing the medium is recorded, but it is not the insurer's download.
    prepared.refresh_from_db()
    assert prepared.status == DeliveryStatus.READY
    assert prepared.downloads.get().channel == DeliveryChannel.MEDIA


# --- 過誤 -----------------------------------------------------------------------------------------------------


def test_an_insurer_return_goes_back_to_the_institution_as_a_type_2_archive(
    capture: Any, routed: tuple[list[Intaken], list[Delivery]], make_user: Callable[..., Any]
) -> None:
    _, deliveries = routed
    delivery = deliveries[0]
    item = delivery.items.select_related("record").first()
    record = item.record
    insurer_user = make_user(Role.INSURER_STAFF, insurer=delivery.insurer)
    institution_user = UserFactory(role=Role.INSTITUTION_STAFF, institution=record.institution, email="kenshin@example.jp")

    with capture(execute=True):
        returned = returns.insurer_return_create(record=record, reason="02", note="受診券整理番号が当組合の発行したものではありません", actor=insurer_user)

    record.refresh_from_db()
    assert record.status == RecordStatus.RETURNED
    assert (returned.insurer, returned.institution, returned.delivery) == (delivery.insurer, record.institution, delivery)
    result = read_archive(
        __import__("intake.storage", fromlist=["read"]).read(returned.archive.sha256),
        filename=returned.archive_file_name, xsd_dir=settings.KENSHIN_XSD_DIR or None, master=None,
    )
    assert [f.code for f in result.findings if f.blocking] == []
    assert result.index is not None and result.index.interaction_type == "2"
    assert (result.index.sender.root, result.index.sender.extension) == (OID_AGENCY, AGENCY)
    assert result.index.receiver == type(result.index.sender)(OID_INSTITUTION, record.institution.number)
    [claim] = result.claims
    assert claim.path == item.claim_name and [m.path for m in result.checkups] == [item.data_name]
    assert claim.record.insurer_result is not None
    assert claim.record.insurer_result.reason_code == "02"
    assert claim.record.insurer_result.reason_text == "受診券整理番号が当組合の発行したものではありません"
    assert claim.record.agency_result is None
    assert AuditEvent.objects.filter(action="routing.return.created", object_ids=[str(record.pk)]).exists()
    [message] = mail.outbox
    assert message.to == [institution_user.email] and "過誤返戻" in message.subject
    assert record.name_kana not in message.body and record.ticket_number not in message.body
    with pytest.raises(Exception, match="既に過誤返戻"):
        returns.insurer_return_create(record=record, reason="09", note="再度", actor=insurer_user)
    steps = {step.key: step for step in timeline.record_timeline(record)}
    assert steps["returned"].done and steps["routed"].done and not steps["billed"].done


def test_an_insurer_cannot_return_another_insurers_record(
    routed: tuple[list[Intaken], list[Delivery]], make_user: Callable[..., Any]
) -> None:
    _, deliveries = routed
    record = deliveries[0].items.first().record
    stranger = make_user(Role.INSURER_STAFF, insurer=deliveries[1].insurer)
    with pytest.raises(__import__("django.core.exceptions", fromlist=["PermissionDenied"]).PermissionDenied):
        returns.insurer_return_create(record=record, reason="04", note="", actor=stranger)
    assert not InsurerReturn.objects.exists()


def test_the_corrected_resubmission_links_to_the_returned_record_and_is_routed_again(
    capture: Any, db: Any, make_user: Callable[..., Any]
) -> None:
    [intaken] = intake_generated(capture, records=3, seed=81, insurers=1)
    [delivery] = route(capture)
    record = delivery.items.first().record
    insurer_user = make_user(Role.INSURER_STAFF, insurer=delivery.insurer)
    with capture(execute=True):
        returns.insurer_return_create(record=record, reason="08", note="", actor=insurer_user)

    again = resend(capture, intaken)
    corrected = again.submission.records.get(data_path=record.data_path)
    assert corrected.status == RecordStatus.ACCEPTED, list(corrected.findings.values_list("code", flat=True))
    assert corrected.replaces_id == record.pk
    others = again.submission.records.exclude(pk=corrected.pk)
    assert all(r.status == RecordStatus.RETURNED and r.replaces_id is None for r in others)  # still accepted before: duplicates
    [second] = route(capture)
    assert list(second.items.values_list("record_id", flat=True)) == [corrected.pk]
    assert AuditEvent.objects.filter(action="intake.record.resubmission_linked").exists()


def test_an_agency_returned_record_is_linked_when_corrected(capture: Any, db: Any) -> None:
    [intaken] = intake_generated(capture, records=3, seed=82, insurers=1, defects=("copay_mismatch",))
    returned = intaken.submission.records.get(status=RecordStatus.RETURNED)
    # The generator draws each record before injecting a defect: without the defect, the same seed
    # gives the same person with a correct claim. The institution resends only that person.
    config = GeneratorConfig(year=2024, records=3, seed=82, insurers=1, agency_number=AGENCY)
    clean = next(generate(config, default_parties(config))).submission
    keep = {m.stem for m in clean.checkups if m.path == returned.data_path}
    corrected_archive = build_submission(
        name=replace(clean.name, same_day_count=1), interaction_type="1", sender=clean.index.sender,
        receiver=clean.index.receiver, checkups=[m for m in clean.checkups if m.stem in keep],
        claims=[m for m in clean.claims if m.stem in keep],
    )
    corrected = receive(capture, intaken.archive, file_name=corrected_archive.name.filename,
                        data=write_archive(corrected_archive)).submission
    [record] = corrected.records.all()
    assert record.status == RecordStatus.ACCEPTED, list(record.findings.values_list("code", flat=True))
    assert record.replaces_id == returned.pk


# --- notifications ----------------------------------------------------------------------------------------------


def test_a_new_delivery_is_mailed_to_that_insurers_users_once_and_opt_outs_are_respected(
    capture: Any, db: Any, make_user: Callable[..., Any], settings: Any
) -> None:
    settings.PORTAL_BASE_URL = "https://portal.example.jp/"
    intake_generated(capture, records=10, seed=91, insurers=3)
    insurers = list(Insurer.objects.filter(records__status=RecordStatus.ACCEPTED).distinct())
    mine, other = insurers[0], insurers[1]
    reader = make_user(Role.INSURER_STAFF, insurer=mine, email="reader@example.jp")
    quiet = make_user(Role.INSURER_STAFF, insurer=mine, email="quiet@example.jp")
    stranger = make_user(Role.INSURER_STAFF, insurer=other, email="other@example.jp")
    NotificationPreference.objects.create(user=quiet, opt_out_delivery=True)
    mail.outbox.clear()

    deliveries = route(capture)
    to = sorted(address for message in mail.outbox for address in message.to)
    assert to == sorted(["reader@example.jp", "other@example.jp"])
    mine_delivery = next(d for d in deliveries if d.insurer_id == mine.pk)
    message = next(m for m in mail.outbox if m.to == ["reader@example.jp"])
    assert mine_delivery.file_name in message.subject and str(mine_delivery.pk) in message.body
    assert f"https://portal.example.jp/insurer/deliveries/{mine_delivery.pk}/" in message.body  # a link that works from a mailbox
    from intake.notifications import notify

    assert notify(kind="delivery", object_id=mine_delivery.pk) == 0  # already sent: nothing twice
    assert NotificationSent.objects.filter(user=reader).count() == 1
    assert not NotificationSent.objects.filter(user=quiet).exists()
    assert stranger.email in to


def test_a_finished_check_is_mailed_to_the_institution_as_a_receipt(capture: Any, db: Any) -> None:
    seed_demo()
    config = GeneratorConfig(year=2024, records=3, seed=92, agency_number=AGENCY)
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    archive = next(generate(config, parties))
    staff = UserFactory(role=Role.INSTITUTION_STAFF, institution=Institution.objects.get(number=archive.institution), email="uketsuke@example.jp")
    mail.outbox.clear()
    intaken = receive(capture, archive)
    [message] = [m for m in mail.outbox if m.to == [staff.email]]
    assert intaken.submission.receipt_number in message.subject
    from intake.notifications import receipts_sweep

    assert receipts_sweep() == 0


# --- commands, the daily task ------------------------------------------------------------------------------------


def test_route_deliveries_prints_each_delivery_and_export_writes_it(capture: Any, db: Any, tmp_path: Path) -> None:
    intake_generated(capture, records=6, seed=101, insurers=2)
    out = io.StringIO()
    with capture(execute=True):
        call_command("route_deliveries", "--json", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows and {row["file_name"] for row in rows} == set(Delivery.objects.values_list("file_name", flat=True))
    for row in rows:
        delivery = Delivery.objects.get(pk=row["id"])
        assert row == {"id": delivery.pk, "insurer": delivery.insurer.number, "file_name": delivery.file_name,
                       "records": delivery.record_count, "sha256": delivery.archive.sha256}
        assert __import__("re").match(NAME_RE, row["file_name"])
    again = io.StringIO()
    call_command("route_deliveries", stdout=again)
    assert again.getvalue() == ""

    printed = io.StringIO()
    call_command("export_delivery", str(rows[0]["id"]), "--out", str(tmp_path / "out"), stdout=printed)
    written = tmp_path / "out" / rows[0]["file_name"]
    assert __import__("hashlib").sha256(written.read_bytes()).hexdigest() == rows[0]["sha256"]
    assert printed.getvalue().split() == [str(written), rows[0]["sha256"]]
    assert AuditEvent.objects.filter(action="routing.delivery.exported", object_ids=[str(rows[0]["id"])]).exists()


def test_the_daily_batch_is_scheduled() -> None:
    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == "routing.route_deliveries"]
    assert len(entries) == 1
    assert entries[0]["schedule"].total_seconds() == 24 * 3600  # type: ignore[attr-defined]
    from agency.celery import app

    app.loader.import_default_modules()
    assert "routing.route_deliveries" in app.tasks and "intake.notify" in app.tasks


def test_routing_needs_the_agency_code(capture: Any, db: Any) -> None:
    intake_generated(capture, records=2, seed=111)
    from agency.models import AgencyProfile

    AgencyProfile.objects.update(agency_code="")
    with pytest.raises(packing.AgencyCodeMissing):
        delivery_services.deliveries_route()
    assert not Delivery.objects.exists()


def test_timelines_of_a_submission_and_a_delivery(
    routed: tuple[list[Intaken], list[Delivery]], make_user: Callable[..., Any]
) -> None:
    intaken, _deliveries = routed
    submission = intaken[0].submission
    steps = {step.key: step for step in timeline.submission_timeline(submission)}
    assert steps["received"].done and steps["checked"].done and steps["routed"].done
    assert not steps["downloaded"].done
    delivery = DeliveryItem.objects.filter(record__submission=submission).first().delivery
    user = make_user(Role.INSURER_STAFF, insurer=delivery.insurer)
    delivery_services.delivery_download(delivery=delivery, actor=user, request=None, channel=DeliveryChannel.API)
    assert {s.key: s for s in timeline.submission_timeline(submission)}["downloaded"].done
    keys = [step.key for step in routing_timeline.delivery_timeline(delivery)]
    assert keys[:2] == ["created", "downloaded"] and "acknowledged" in keys
    record_steps = [step.key for step in timeline.record_timeline(delivery.items.first().record)]
    assert record_steps == ["received", "checked", "routed", "downloaded", "billed", "paid"]


def test_submission_timeline_figures_come_from_its_own_records_only(db: Any) -> None:
    """routed: the newest of its records' deliveries and how many of the accepted; downloaded: the first download
    that was not media; returns: how many and the latest — another submission's deliveries change none of these."""
    now = timezone.now()
    submission = SubmissionFactory(status="accepted")
    records = [RecordFactory(submission=submission) for _ in range(3)]
    first = DeliveryFactory(insurer=records[0].insurer, created_at=now - dt.timedelta(days=5), records=[records[0]])
    second = DeliveryFactory(insurer=records[1].insurer, created_at=now - dt.timedelta(days=3), records=[records[1]])
    DeliveryFactory(created_at=now - dt.timedelta(days=1), records=[RecordFactory()])  # another submission's, newer
    downloads = [(first, DeliveryChannel.MEDIA, 5), (second, DeliveryChannel.API, 2), (first, DeliveryChannel.WEB, 1)]
    for delivery, channel, days in downloads:
        DeliveryDownload.objects.create(delivery=delivery, actor_label="保険者", channel=channel,
                                        downloaded_at=now - dt.timedelta(days=days))
    InsurerReturnFactory(record=records[0], returned_at=now - dt.timedelta(hours=5))
    submission.refresh_from_db()
    steps = {step.key: step for step in routing_timeline.submission_steps(submission)}
    assert steps["routed"].at == second.created_at and steps["routed"].detail == f"2／{submission.records_accepted}件"
    assert not steps["routed"].done
    assert steps["downloaded"].at == now - dt.timedelta(days=2) and steps["downloaded"].done
    assert steps["returned"].at == now - dt.timedelta(hours=5) and steps["returned"].detail == "1件"
    untouched = {step.key: step for step in routing_timeline.submission_steps(SubmissionFactory())}
    assert untouched["routed"].at is None and not untouched["downloaded"].done and "returned" not in untouched


def test_an_insurer_whose_delivery_fails_the_self_check_is_skipped_and_the_others_are_routed(
    capture: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake_generated(capture, records=10, seed=121, insurers=3)
    insurers = sorted(set(Record.objects.filter(status=RecordStatus.ACCEPTED).values_list("insurer__number", flat=True)))
    broken = insurers[0]
    real = delivery_services.verify_archive

    def verify(data: bytes, file_name: str) -> None:
        if f"_{broken}_" in file_name:
            raise packing.DeliveryInvalid("XML_SCHEMA_INVALID CLAIMS/c….xml")
        real(data, file_name)

    monkeypatch.setattr(delivery_services, "verify_archive", verify)
    failures: list[delivery_services.RoutingFailure] = []
    with capture(execute=True):
        created = delivery_services.deliveries_route(failures=failures)
    assert {d.insurer.number for d in created} == set(insurers[1:])
    assert failures == [delivery_services.RoutingFailure(broken, "XML_SCHEMA_INVALID CLAIMS/c….xml")]
    event = AuditEvent.objects.get(action="routing.failed")
    assert event.outcome == "failure" and event.detail["insurer"] == broken
    assert selectors.routable_records().filter(insurer__number=broken).exists()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("route_deliveries", stdout=io.StringIO(), stderr=err)
    assert err.getvalue().startswith(f"{broken}\tFAILED")
    monkeypatch.setattr(delivery_services, "verify_archive", real)
    [late] = route(capture)
    assert late.insurer.number == broken


def test_the_self_check_refuses_an_archive_that_fails_the_standard_checks() -> None:
    """What the router reads back before a delivery is stored: blocking findings are named."""
    clean = next(generate(GeneratorConfig(year=2024, records=4, seed=131)))
    delivery_services.verify_archive(clean.data, clean.filename)  # nothing blocking
    broken = next(generate(GeneratorConfig(year=2024, records=4, seed=131, defects=("su08_total_mismatch",))))
    with pytest.raises(packing.DeliveryInvalid) as refused:
        delivery_services.verify_archive(broken.data, broken.filename)
    assert "SUM_TOTAL_MISMATCH su08_V08.xml" in str(refused.value)
