"""The audit screens speak Japanese: roles, actions, outcomes and targets by their names, targets linked."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from agency.models import Role
from compliance.audit_labels import ACTIONS, action_label

pytestmark = pytest.mark.django_db


def test_the_event_list_names_roles_actions_outcomes_and_links_targets(user_client: Callable[..., Client]) -> None:
    admin = user_client(Role.AGENCY_ADMIN)
    admin.get(reverse("intake:workbench"))
    page = user_client(Role.AUDITOR).get(reverse("audit:event_list")).content.decode()
    assert "点検ワークベンチの閲覧" in page
    assert "代行機関管理者" in page or "代行機関" in page
    assert "成功" in page
    for internal in (">agency_admin<", ">intake.workbench.view<", ">success<"):
        assert internal not in page


def test_every_recorded_action_has_a_name() -> None:
    assert action_label("intake.workbench.view") == "点検ワークベンチの閲覧"
    assert action_label("billing.something.download") == "請求：ダウンロード"
    assert all(label and not label.isascii() for label in ACTIONS.values())


ACTION_LITERAL = re.compile(r'(?:\baction=|@personal_data\(|request_audit\(request,\s*)"([a-z_]+(?:\.[a-z_]+)+)"')


def test_every_action_the_code_records_is_named_in_the_table() -> None:
    """An action written as a literal anywhere in the apps has its own name, not one pieced together from its parts."""
    root = Path(__file__).resolve().parents[2]
    recorded = {
        match
        for app in ("agency", "audit", "billing", "compliance", "core", "intake", "portal", "routing")
        for path in (root / app).rglob("*.py")
        if "migrations" not in path.parts
        for match in ACTION_LITERAL.findall(path.read_text(encoding="utf-8"))
    }
    assert "intake.record.view" in recorded  # the scan finds what it should
    assert sorted(recorded - ACTIONS.keys()) == []
