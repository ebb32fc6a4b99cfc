"""Archives from the synthetic generator for the parties in the test database, received and checked.

``make_archive(contract)`` prices the archive with that contract; ``receive`` runs it through intake with
the check on commit (executed by ``capture``, eagerly in tests); ``warning_on`` adds a warning to override.
``generated`` makes archives whose synthetic parties are loaded into the database, ``rewritten`` changes
some of an archive's records (su08 recomputed) and ``intake_json`` runs ``manage.py intake_archive --json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command

from agency.demo import seed_demo
from agency.models import AgencyProfile, Contract, Institution
from agency.services import synthetic_parties_load
from intake import checks
from intake.models import Channel, Finding, Record, RecordStatus, Submission
from intake.services.receive import submission_receive
from kenshin.assemble import summary_for
from kenshin.naming import ArchiveName
from kenshin.records import CheckupDocument, Claim, Member
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, default_parties, generate
from kenshin.synth.parties import Parties, SynthContract, SynthInstitution, SynthInsurer
from kenshin.writer import write_archive

from ..factories import FindingFactory

# Two records are returned (ticket expired → 別表9 06, copay recomputed differently → 07), the rest accepted.
RETURN_DEFECTS = ("ticket_expired", "copay_mismatch")


def parties_for(contract: Contract) -> Parties:
    """The generator's parties, taken from one contract of the test database."""
    insurer, institution = contract.insurer, contract.institution
    return Parties(
        insurers=(SynthInsurer(insurer.number, insurer.name),),
        institutions=(
            SynthInstitution(institution.number, institution.name, "1000001", institution.address, "03-0000-0000"),
        ),
        contracts=(
            SynthContract(
                insurer.number,
                institution.number,
                contract.valid_from,
                contract.valid_to,
                checks.contract_terms(contract),
            ),
        ),
    )


def make_archive(
    contract: Contract, *, records: int = 5, seed: int = 1, defects: tuple[str, ...] = RETURN_DEFECTS
) -> GeneratedArchive:
    agency_code = AgencyProfile.objects.values_list("agency_code", flat=True).get()
    config = GeneratorConfig(
        year=2024, records=records, seed=seed, defects=defects, insurers=1, agency_number=agency_code
    )
    return next(generate(config, parties_for(contract)))


def receive(
    archive: GeneratedArchive,
    institution: Institution,
    capture: Callable[..., Any],
    *,
    channel: str = Channel.UPLOAD,
    actor: Any = None,
) -> Submission:
    """Receive and check (the check task runs on commit, eagerly in tests)."""
    with capture(execute=True):
        result = submission_receive(
            source=archive.data, file_name=archive.filename, institution=institution, channel=channel, actor=actor
        )
    return Submission.objects.select_related("institution", "archive").get(pk=result.submission.pk)


def warning_on(submission: Submission) -> Finding:
    """A warning (unknown item code) on the first accepted record of ``submission``, to be overridden."""
    record = Record.objects.filter(submission=submission, status=RecordStatus.ACCEPTED).first()
    return FindingFactory(record=record, return_reason="01")


AGENCY_NUMBER = "91399055"


def generated(*, records: int = 6, seed: int = 11, institutions: int = 1, **kwargs: Any) -> list[GeneratedArchive]:
    """Archives from the generator, one per institution, whose parties exist in the database."""
    seed_demo()
    config = GeneratorConfig(
        year=2024, records=records, seed=seed, institutions=institutions, agency_number=AGENCY_NUMBER, **kwargs
    )
    parties = default_parties(config)
    synthetic_parties_load(parties=parties, agency_number=AGENCY_NUMBER)
    return list(generate(config, parties))


RecordChange = Callable[[CheckupDocument, Claim], tuple[CheckupDocument, Claim]]


def rewritten(
    archive: GeneratedArchive, change: RecordChange, *, positions: Sequence[int] = (0,), name: ArchiveName | None = None
) -> GeneratedArchive:
    """The archive with ``change`` applied to the records at ``positions`` and su08 recomputed, written
    anew (under ``name`` when given: another sender, another day or a later same-day count)."""
    submission = archive.submission
    checkups, claims = list(submission.checkups), list(submission.claims)
    for position in positions:
        document, claim = change(checkups[position].record, claims[position].record)
        checkups[position] = Member(checkups[position].path, document)
        claims[position] = Member(claims[position].path, claim)
    assert submission.summary is not None
    summary = summary_for([member.record for member in claims], service_event_type=submission.summary.service_event_type)
    changed = replace(submission, checkups=tuple(checkups), claims=tuple(claims), summary=summary, name=name or submission.name)
    return replace(archive, submission=changed, data=write_archive(changed), filename=changed.name.filename)


def intake_json(archive: GeneratedArchive, directory: Path, *, institution: str | None = None) -> dict[str, Any]:
    """``manage.py intake_archive PATH --json`` on the archive: the JSON object it prints."""
    path = directory / archive.filename
    path.write_bytes(archive.data)
    out = StringIO()
    call_command(
        "intake_archive", str(path), "--channel", "media", "--institution", institution or archive.institution, "--json", stdout=out
    )
    (line,) = out.getvalue().strip().splitlines()
    result: dict[str, Any] = json.loads(line)
    return result


def codes_of(result: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in result["findings"]}
