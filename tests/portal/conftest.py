"""Home page fixtures: the agency profile and a received, checked archive of institution A."""

from __future__ import annotations

from typing import Any

import pytest

from agency.demo import AGENCY
from agency.models import Contract
from intake.models import Submission

from ..factories import AgencyProfileFactory
from ..intake.helpers import make_archive, receive


@pytest.fixture
def submission_a(contract_a: Contract, django_capture_on_commit_callbacks: Any) -> Submission:
    AgencyProfileFactory(**AGENCY)
    return receive(make_archive(contract_a), contract_a.institution, django_capture_on_commit_callbacks)
