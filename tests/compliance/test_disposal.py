"""Retention and disposal: manifest of expired data, two approvals, deletion of rows and files,
and the append-only certificate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agency.models import Institution, User
from audit.models import AuditEvent
from compliance import probes
from compliance.models import (
    AppendOnlyError,
    DataClass,
    DisposalCertificate,
    DisposalRequest,
    ProbeStatus,
    RetentionPolicy,
)
from compliance.services import disposal as services_disposal
from intake import storage
from intake.models import Finding, Record, StoredArchive, Submission

from ..factories import FindingFactory, SubmissionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(admin_a: User) -> RetentionPolicy:
    return services_disposal.retention_policy_save(
        data_class=DataClass.SUBMISSION, retention_years=5, legal_basis="特定健康診査等実施基準・委託契約",
        procedure="保存期間経過後、管理者2名の承認により削除する。", actor=admin_a,
    )


@pytest.fixture
def old_and_new(institution_a: Institution) -> tuple[Submission, Submission]:
    old = SubmissionFactory(institution=institution_a, received_at=timezone.now() - dt.timedelta(days=6 * 365), records=3, archive__on_disk=True)
    FindingFactory(record=old.records.first(), code="T1", severity=Finding.Severity.WARNING, message="x")
    new = SubmissionFactory(institution=institution_a, received_at=timezone.now() - dt.timedelta(days=365), records=2, archive__on_disk=True)
    return old, new


def test_retention_policy_through_the_page(admin_client: Client) -> None:
    assert probes.measure("retention_policies").status == ProbeStatus.FAIL
    response = admin_client.post(reverse("compliance:retention_policy_edit", args=[DataClass.SUBMISSION]),
                                 {"retention_years": 5, "legal_basis": "実施基準", "procedure": "2名承認で削除"})
    assert response.status_code == 302
    assert RetentionPolicy.objects.get().retention_years == 5
    assert probes.measure("retention_policies").status == ProbeStatus.PASS


def test_manifest_lists_only_expired_data(policy: RetentionPolicy, old_and_new: Any, admin_a: User) -> None:
    old, _new = old_and_new
    disposal = services_disposal.disposal_request_create(data_class=DataClass.SUBMISSION, actor=admin_a)
    assert [e["submission"] for e in disposal.manifest] == [old.pk]
    assert disposal.counts == {"submissions": 1, "records": 3, "findings": 1, "files": 1, "bytes": old.archive.size}
    assert disposal.manifest_sha256 == services_disposal.sha256_of(disposal.manifest)


def test_nothing_expired_is_refused(policy: RetentionPolicy, admin_a: User) -> None:
    with pytest.raises(ValidationError, match="過ぎたデータはありません"):
        services_disposal.disposal_request_create(data_class=DataClass.SUBMISSION, actor=admin_a)


def test_two_approvals_then_deletion_and_certificate(
    policy: RetentionPolicy, old_and_new: Any, admin_a: User, admin_b: User, admin_client: Client,
    admin_b_client: Client, auditor_client: Client, django_capture_on_commit_callbacks: Any,
) -> None:
    old, new = old_and_new
    old_file = storage.path_for(old.archive.sha256)
    assert old_file.exists()
    response = admin_client.post(reverse("compliance:disposal_request"), {"data_class": DataClass.SUBMISSION})
    disposal = DisposalRequest.objects.get()
    detail = reverse("compliance:disposal_detail", args=[disposal.pk])
    assert response["Location"] == detail

    admin_client.post(detail, {"op": "approve"})
    page = admin_client.post(detail, {"op": "approve"}).content.decode()
    assert "既に承認しています" in page
    page = admin_client.post(detail, {"op": "execute"}).content.decode()
    assert "2名の承認が必要です" in page
    assert Submission.objects.filter(pk=old.pk).exists()

    admin_b_client.post(detail, {"op": "approve"})
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_b_client.post(detail, {"op": "execute"})
    certificate = DisposalCertificate.objects.get()
    assert response["Location"] == reverse("compliance:certificate_detail", args=[certificate.seq])

    # the data and the file are gone; newer data untouched
    assert not Submission.objects.filter(pk=old.pk).exists()
    assert not Record.objects.filter(submission_id=old.pk).exists()
    assert not StoredArchive.objects.filter(sha256=old.archive.sha256).exists()
    assert not old_file.exists()
    assert Submission.objects.filter(pk=new.pk).exists()
    assert storage.path_for(new.archive.sha256).exists()

    # the certificate says what was done, by whom, and verifies
    assert certificate.counts["records"] == 3
    assert certificate.manifest_sha256 == disposal.manifest_sha256
    assert [a["username"] for a in certificate.approvers] == ["admin-a", "admin-b"]
    assert certificate.executed_by == "admin-b"
    assert certificate.requested_by == "admin-a"
    assert certificate.prev_hash == "0" * 64
    assert services_disposal.certificate_verify(certificate)
    disposal.refresh_from_db()
    assert disposal.state == DisposalRequest.State.EXECUTED
    assert AuditEvent.objects.filter(action="compliance.disposal.executed", object_ids=[str(disposal.pk)]).exists()
    page = auditor_client.get(reverse("compliance:certificate_detail", args=[certificate.seq])).content.decode()
    assert "内容とハッシュは一致しています" in page
    assert certificate.manifest_sha256 in page


def test_data_changed_after_approval_is_refused(policy: RetentionPolicy, old_and_new: Any, admin_a: User,
                                                admin_b: User) -> None:
    old, _new = old_and_new
    disposal = services_disposal.disposal_request_create(data_class=DataClass.SUBMISSION, actor=admin_a)
    services_disposal.disposal_approve(disposal=disposal, actor=admin_a)
    services_disposal.disposal_approve(disposal=disposal, actor=admin_b)
    FindingFactory(submission=old, code="T2", severity=Finding.Severity.INFO, message="added later")
    with pytest.raises(ValidationError, match="承認後に対象データが変わっています"):
        services_disposal.disposal_execute(disposal=disposal, actor=admin_a)
    assert Submission.objects.filter(pk=old.pk).exists()
    assert storage.path_for(old.archive.sha256).exists()  # the file was put back


def test_only_an_approver_executes(policy: RetentionPolicy, old_and_new: Any, admin_a: User, admin_b: User,
                                   make_user: Any) -> None:
    disposal = services_disposal.disposal_request_create(data_class=DataClass.SUBMISSION, actor=admin_a)
    services_disposal.disposal_approve(disposal=disposal, actor=admin_a)
    services_disposal.disposal_approve(disposal=disposal, actor=admin_b)
    third = make_user("agency_admin", username="admin-c")
    with pytest.raises(ValidationError, match="承認者のいずれか"):
        services_disposal.disposal_execute(disposal=disposal, actor=third)


def test_replaced_records_stay_with_the_records_that_replace_them(policy: RetentionPolicy, institution_a: Institution,
                                                                  admin_a: User) -> None:
    old = SubmissionFactory(institution=institution_a, received_at=timezone.now() - dt.timedelta(days=7 * 365), records=1)
    newer = SubmissionFactory(institution=institution_a, received_at=timezone.now() - dt.timedelta(days=30), records=1)
    Record.objects.filter(submission=newer).update(replaces=old.records.get())
    with pytest.raises(ValidationError):
        services_disposal.disposal_request_create(data_class=DataClass.SUBMISSION, actor=admin_a)


def test_chains_of_replacements_inside_the_manifest_are_deleted(policy: RetentionPolicy, institution_a: Institution,
                                                                admin_a: User, admin_b: User) -> None:
    first = SubmissionFactory(institution=institution_a, received_at=timezone.now() - dt.timedelta(days=7 * 365), records=1)
    second = SubmissionFactory(institution=institution_a, received_at=timezone.now() - dt.timedelta(days=6 * 365), records=1)
    Record.objects.filter(submission=second).update(replaces=first.records.get())
    disposal = services_disposal.disposal_request_create(data_class=DataClass.SUBMISSION, actor=admin_a)
    services_disposal.disposal_approve(disposal=disposal, actor=admin_a)
    services_disposal.disposal_approve(disposal=disposal, actor=admin_b)
    services_disposal.disposal_execute(disposal=disposal, actor=admin_b)
    assert not Submission.objects.exists()


def _certificate(admin_a: User, admin_b: User, policy: RetentionPolicy, institution: Institution) -> DisposalCertificate:
    SubmissionFactory(institution=institution, received_at=timezone.now() - dt.timedelta(days=6 * 365), records=1)
    disposal = services_disposal.disposal_request_create(data_class=DataClass.SUBMISSION, actor=admin_a)
    services_disposal.disposal_approve(disposal=disposal, actor=admin_a)
    services_disposal.disposal_approve(disposal=disposal, actor=admin_b)
    return services_disposal.disposal_execute(disposal=disposal, actor=admin_a)


def _truncate_certificates() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # settle this transaction's own foreign-key checks first
        cursor.execute("TRUNCATE compliance_disposalcertificate CASCADE")


def test_certificates_are_append_only(admin_a: User, admin_b: User, policy: RetentionPolicy,
                                      institution_a: Institution) -> None:
    certificate = _certificate(admin_a, admin_b, policy, institution_a)
    certificate.executed_by = "forged"
    with pytest.raises(AppendOnlyError):
        certificate.save()
    with pytest.raises(AppendOnlyError):
        certificate.delete()
    with pytest.raises(AppendOnlyError):
        DisposalCertificate.objects.update(executed_by="forged")
    with pytest.raises(AppendOnlyError):
        DisposalCertificate.objects.all().delete()
    for sql in ("UPDATE compliance_disposalcertificate SET executed_by = 'forged'", "DELETE FROM compliance_disposalcertificate"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"):
            _truncate_certificates()
    assert DisposalCertificate.objects.get().executed_by == "admin-a"


def test_certificates_chain(admin_a: User, admin_b: User, policy: RetentionPolicy, institution_a: Institution) -> None:
    first = _certificate(admin_a, admin_b, policy, institution_a)
    second = _certificate(admin_a, admin_b, policy, institution_a)
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.certificate_hash
    assert services_disposal.certificate_verify(second)


def test_certificate_pdf(admin_a: User, admin_b: User, policy: RetentionPolicy, institution_a: Institution,
                         auditor_client: Client) -> None:
    pytest.importorskip("weasyprint", reason="WeasyPrint is not installed")
    certificate = _certificate(admin_a, admin_b, policy, institution_a)
    response = auditor_client.get(reverse("compliance:certificate_pdf", args=[certificate.seq]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_auditors_see_but_cannot_dispose(auditor_client: Client) -> None:
    assert auditor_client.get(reverse("compliance:disposal_list")).status_code == 200
    assert auditor_client.post(reverse("compliance:disposal_request"), {"data_class": DataClass.SUBMISSION}).status_code == 403
