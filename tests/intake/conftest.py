"""Intake fixtures: the agency profile and a received, checked archive of institution A."""

from __future__ import annotations

from typing import Any

import pytest

from agency.demo import AGENCY
from agency.models import AgencyProfile, Contract
from intake.models import Submission
from kenshin.synth.generator import GeneratedArchive

from ..factories import AgencyProfileFactory
from .helpers import make_archive, receive


@pytest.fixture
def agency_profile(db: Any) -> AgencyProfile:
    return AgencyProfileFactory(**AGENCY)


@pytest.fixture
def archive_a(agency_profile: AgencyProfile, contract_a: Contract) -> GeneratedArchive:
    return make_archive(contract_a)


@pytest.fixture
def submission_a(
    archive_a: GeneratedArchive, contract_a: Contract, django_capture_on_commit_callbacks: Any
) -> Submission:
    return receive(archive_a, contract_a.institution, django_capture_on_commit_callbacks)
