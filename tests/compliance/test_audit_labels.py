"""The audit screens speak Japanese: roles, actions, outcomes and targets by their names, targets linked."""

from __future__ import annotations

from collections.abc import Callable

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
