"""Maintenance windows: approval, closing (sessions end) and the review with the access report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agency.models import Institution, MaintenanceWindow, Role, User
from audit.models import AuditEvent
from compliance import probes
from compliance.models import AccessReview, ProbeStatus
from compliance.services import emergency_access as services_access

from ..conftest import login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer(make_user: Callable[..., User]) -> User:
    return make_user(Role.MAINTENANCE, username="vendor-eng")


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_approve_then_work_then_close_opens_the_review(
    admin_client: Client, auditor_client: Client, engineer: User, institution_a: Institution,
) -> None:
    start = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    response = admin_client.post(reverse("compliance:maintenance_list"), {
        "user": engineer.pk, "ticket": "CHG-2026-118", "purpose": "OSパッチ適用",
        "starts_at": _local(start), "ends_at": _local(start + dt.timedelta(hours=3)),
    })
    window = MaintenanceWindow.objects.get()
    assert response.status_code == 302
    assert window.approved_by.username == "admin-a"
    assert AuditEvent.objects.filter(action="compliance.maintenance.approved", object_ids=[str(window.pk)]).exists()

    vendor = login_verified(Client(), engineer)
    assert vendor.get(reverse("home")).status_code == 200
    audit_count = AuditEvent.objects.filter(actor_id=engineer.pk).count()

    response = admin_client.post(reverse("compliance:maintenance_detail", args=[window.pk]))
    review = AccessReview.objects.get()
    assert response["Location"] == reverse("compliance:review_detail", args=[review.pk])
    window.refresh_from_db()
    assert window.closed_at is not None
    # the window is closed: the maintenance session ends at once
    assert vendor.get(reverse("home")).status_code == 302
    assert review.kind == AccessReview.Kind.MAINTENANCE
    assert review.subject_ids == [engineer.pk]
    page = auditor_client.get(reverse("compliance:review_detail", args=[review.pk])).content.decode()
    assert audit_count >= 1
    assert "auth.login" in page
    assert "CHG-2026-118" in page


def test_access_report_lists_personal_data_touched(admin_a: User, engineer: User, institution_a: Institution) -> None:
    from audit.services import audit_record

    now = timezone.now()
    window = services_access.maintenance_window_approve(
        user=engineer, ticket="CHG-7", purpose="DB調査", starts_at=now - dt.timedelta(minutes=5),
        ends_at=now + dt.timedelta(hours=1), actor=admin_a,
    )
    audit_record(action="intake.record.view", actor=engineer, object_type="record", object_ids=[11, 12])
    audit_record(action="intake.record.view", actor=engineer, object_type="record", object_ids=[12, 13])
    audit_record(action="intake.record.view", actor=admin_a, object_type="record", object_ids=[99])
    review = services_access.maintenance_window_close(window=window, actor=admin_a)
    client = login_verified(Client(), admin_a)
    page = client.get(reverse("compliance:review_detail", args=[review.pk])).content.decode()
    assert "11, 12, 13" in page
    assert "99" not in page.split("アクセスした個人情報")[1].split("すべての操作")[0]


@pytest.mark.parametrize(
    ("hours", "start_offset", "message"),
    [(25, -1, "24時間"), (2, -5, "既に終わった"), (-1, 0, "終了は開始より後")],
)
def test_window_rules(admin_a: User, engineer: User, hours: int, start_offset: int, message: str) -> None:
    start = timezone.now() + dt.timedelta(hours=start_offset)
    with pytest.raises(ValidationError, match=message):
        services_access.maintenance_window_approve(user=engineer, ticket="T", purpose="p", starts_at=start,
                                                   ends_at=start + dt.timedelta(hours=hours), actor=admin_a)


def test_only_maintenance_accounts_get_windows(admin_a: User) -> None:
    now = timezone.now()
    with pytest.raises(ValidationError, match="保守担当"):
        services_access.maintenance_window_approve(user=admin_a, ticket="T", purpose="p", starts_at=now,
                                                   ends_at=now + dt.timedelta(hours=1), actor=admin_a)


def test_overlapping_windows_are_refused(admin_a: User, engineer: User) -> None:
    now = timezone.now()
    services_access.maintenance_window_approve(user=engineer, ticket="A", purpose="p", starts_at=now,
                                               ends_at=now + dt.timedelta(hours=2), actor=admin_a)
    with pytest.raises(ValidationError, match="重なって"):
        services_access.maintenance_window_approve(user=engineer, ticket="B", purpose="p", starts_at=now + dt.timedelta(hours=1),
                                                   ends_at=now + dt.timedelta(hours=3), actor=admin_a)


def test_windows_left_open_are_closed_by_the_sweep(admin_a: User, engineer: User) -> None:
    now = timezone.now()
    window = services_access.maintenance_window_approve(user=engineer, ticket="CHG-9", purpose="p", starts_at=now,
                                                        ends_at=now + dt.timedelta(hours=1), actor=admin_a)
    with time_machine.travel(window.ends_at + dt.timedelta(minutes=2)):
        assert probes.measure("maintenance_windows").status == ProbeStatus.FAIL
        from compliance.tasks import maintenance_close_expired_task

        assert maintenance_close_expired_task.delay().get() == 1
        assert probes.measure("maintenance_windows").status == ProbeStatus.PASS
    review = AccessReview.objects.get()
    assert review.period_end == window.ends_at
    assert AuditEvent.objects.filter(action="compliance.maintenance.closed", actor_id=None).exists()


def test_the_engineer_cannot_complete_the_review_of_their_own_window(admin_a: User, engineer: User) -> None:
    now = timezone.now()
    window = services_access.maintenance_window_approve(user=engineer, ticket="C", purpose="p", starts_at=now,
                                                        ends_at=now + dt.timedelta(hours=1), actor=admin_a)
    review = services_access.maintenance_window_close(window=window, actor=admin_a)
    with pytest.raises(ValidationError, match="対象者"):
        services_access.access_review_complete(review=review, notes="ok", actor=engineer)
    services_access.access_review_complete(review=review, notes="作業記録と一致", actor=admin_a)
    with pytest.raises(ValidationError, match="既に完了"):
        services_access.access_review_complete(review=review, notes="again", actor=admin_a)


def test_auditors_cannot_approve(auditor_client: Client, engineer: User) -> None:
    assert auditor_client.get(reverse("compliance:maintenance_list")).status_code == 403
