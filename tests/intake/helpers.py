"""Archives from the synthetic generator for the parties in the test database, received and checked.

``make_archive(contract)`` prices the archive with that contract; ``receive`` runs it through intake with
the check on commit (executed by ``capture``, eagerly in tests); ``warning_on`` adds a warning to override.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agency.models import AgencyProfile, Contract, Institution
from intake import checks
from intake.models import Channel, Finding, Record, RecordStatus, Submission
from intake.services.receive import submission_receive
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, generate
from kenshin.synth.parties import Parties, SynthContract, SynthInstitution, SynthInsurer

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
