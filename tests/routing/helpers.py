"""Archives from the synthetic generator received and checked through intake, then routed.

The generator's parties are loaded into the database first; checking runs in-process (eager Celery,
the on-commit callbacks of ``capture`` executed). ``routed_sample`` builds minimal own-tenant routing
objects without real archives, for the permission matrix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from agency.demo import seed_demo
from agency.models import Institution
from agency.services import synthetic_parties_load
from intake import storage
from intake.models import Channel, Record, RecordStatus, StoredArchive, Submission
from intake.services.receive import submission_receive
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate
from routing.models import Delivery, DeliveryItem, InsurerReturn
from routing.services import deliveries as delivery_services

AGENCY = "91399055"


@dataclass(frozen=True)
class Intaken:
    archive: GeneratedArchive
    submission: Submission


def intake_generated(
    capture: Any, *, records: int = 12, seed: int = 5, institutions: int = 1, defects: tuple[str, ...] = (), insurers: int = 5
) -> list[Intaken]:
    """Generate archives, load their parties, receive and check them; one entry per archive."""
    seed_demo()
    config = GeneratorConfig(
        year=2024, records=records, seed=seed, institutions=institutions, defects=defects, agency_number=AGENCY, insurers=insurers
    )
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY)
    return [receive(capture, archive) for archive in generate(config, parties)]


def receive(capture: Any, archive: GeneratedArchive, *, file_name: str | None = None, data: bytes | None = None) -> Intaken:
    institution = Institution.objects.get(number=archive.institution)
    with capture(execute=True):
        received = submission_receive(
            source=data or archive.data, file_name=file_name or archive.filename, institution=institution, channel=Channel.MEDIA
        )
    received.submission.refresh_from_db()
    return Intaken(archive, received.submission)


def route(capture: Any, **kwargs: Any) -> list[Delivery]:
    with capture(execute=True):
        return delivery_services.deliveries_route(**kwargs)


def routed_sample(insurer: Any, institution: Any) -> dict[str, int]:
    """Own-tenant objects for URL samples: a routed record of ``institution`` in a delivery for
    ``insurer`` and a 過誤 of it with its archive (stored bytes, not a real archive). Returns ids:
    ``delivery``, ``record`` (routed, not returned), ``returned_record`` and ``insurer_return``."""
    submission = submission_receive(
        source=b"routing sample " + insurer.number.encode() + institution.number.encode(), file_name="sample.zip",
        institution=institution, channel=Channel.UPLOAD, enqueue=False,
    ).submission
    stored = storage.store(b"delivery sample " + insurer.number.encode())
    archive, _ = StoredArchive.objects.get_or_create(sha256=stored.sha256, defaults={"size": stored.size})
    delivery = Delivery.objects.create(
        insurer=insurer, archive=archive, file_name=f"91399055_{insurer.number}_202604010_1.zip", sender_code="91399055",
        created_on=dt.date(2026, 4, 1), same_day_count=0, record_count=2, file_count=4, unit_total=0, payment_total=0,
        claim_total=0,
    )
    records = []
    for position in (1, 2):
        record = Record.objects.create(
            submission=submission, position=position, data_path=f"DATA/h{position}.xml", claim_path=f"CLAIMS/c{position}.xml",
            status=RecordStatus.ACCEPTED, institution=institution, insurer=insurer, insurer_number=insurer.number,
            ticket_number=f"2410000000{position}", checkup_date=dt.date(2026, 3, 1),
        )
        DeliveryItem.objects.create(delivery=delivery, record=record, position=position,
                                    data_name=record.data_path, claim_name=record.claim_path)
        records.append(record)
    back = storage.store(b"return sample " + insurer.number.encode())
    returned = InsurerReturn.objects.create(
        record=records[1], delivery=delivery, insurer=insurer, institution=institution, reason="09", note="sample",
        returned_label="sample", archive=StoredArchive.objects.get_or_create(sha256=back.sha256, defaults={"size": back.size})[0],
        archive_file_name=f"91399055_{institution.number}_202604010_1.zip",
    )
    Record.objects.filter(pk=records[1].pk).update(status=RecordStatus.RETURNED)
    return {"delivery": delivery.pk, "record": records[0].pk, "returned_record": records[1].pk, "insurer_return": returned.pk,
            "submission": submission.pk}
