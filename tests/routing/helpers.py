"""Archives from the synthetic generator received and checked through intake, then routed.

The generator's parties are loaded into the database first; checking runs in-process (eager Celery,
the on-commit callbacks of ``capture`` executed). ``routed_sample`` builds minimal own-tenant routing
objects (factory rows) without real archives, for the permission matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from agency.demo import seed_demo
from agency.models import Institution
from agency.services import synthetic_parties_load
from intake.models import Channel, StoredArchive, Submission
from intake.services.receive import submission_receive
from kenshin.naming import ArchiveName
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate
from routing.models import Delivery, InsurerReturnReason
from routing.services import deliveries as delivery_services

from ..factories import (
    DeliveryFactory,
    InsurerReturnFactory,
    RecordFactory,
    StoredArchiveFactory,
    SubmissionFactory,
)

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
    """Own-tenant objects for URL samples: two routed records of ``institution`` in a delivery for
    ``insurer``, the second returned (過誤) with an archive back (stored bytes, not real archives).
    Returns ids: ``delivery``, ``record`` (routed, not returned), ``returned_record``, ``insurer_return``
    and ``submission``."""
    submission = SubmissionFactory(institution=institution, archive=_stored(b"routing sample ", insurer, institution))
    records = [RecordFactory(submission=submission, insurer=insurer) for _ in range(2)]
    delivery = DeliveryFactory(insurer=insurer, archive=_stored(b"delivery sample ", insurer), records=records)
    returned = InsurerReturnFactory(
        record=records[1], reason=InsurerReturnReason.OTHER, note="sample", returned_label="sample",
        archive=_stored(b"return sample ", insurer),
        archive_file_name=ArchiveName(AGENCY, institution.number, timezone.localdate(), 0, "1").filename,
    )
    return {"delivery": delivery.pk, "record": records[0].pk, "returned_record": records[1].pk, "insurer_return": returned.pk,
            "submission": submission.pk}


def _stored(prefix: bytes, *parties: Any) -> StoredArchive:
    return StoredArchiveFactory(content=prefix + b"".join(party.number.encode() for party in parties), on_disk=True)
