"""Isolation in the database itself: PostgreSQL row-level security on the tenant tables.

These tests prove the database layer, not the Django layer: they run with the application's role
(``manage.py db_grant_app_role``: not a superuser, owning no table), reached with ``SET LOCAL ROLE``
inside the test's transaction, or by connecting as that role. The suite itself connects as
``postgres`` (a superuser, to whom row-level security does not apply), so every other test proves
the Django-level scoping (selectors and access functions) only. On SQLite, which has no row-level
security, these tests are skipped; the Django-level tests run there as everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path
from django.utils import timezone

from agency import urls as portal_urls
from agency.demo import AGENCY
from agency.models import Role, User
from billing import calendar
from billing.models import ClaimsStatementLine, FeeChargedItem, LineKind
from billing.services.closing import billing_month_get, month_close
from compliance.dbroles import app_role_grant
from core import rls, tenancy
from intake.models import EligibilityUpload, Finding, Record, StoredArchive, Submission
from routing.models import Delivery, DeliveryItem, InsurerReturn

from ..conftest import login_verified
from ..factories import AgencyProfileFactory, StoredArchiveFactory, SubmissionFactory
from ..routing.helpers import routed_sample
from .helpers import PROXY, machine_for

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-level security exists on PostgreSQL only (DATABASE_URL=postgres://…)"
)

TENANT_TABLES = {
    "agency_contract", "agency_contractotheritem", "intake_submission", "intake_record", "intake_finding",
    "intake_eligibilityupload", "intake_eligibilityticket", "intake_delivery", "intake_deliveryitem",
    "intake_deliverydownload", "intake_insurerreturn", "billing_claimsstatement", "billing_claimsstatementline",
    "billing_paymentstatement", "billing_paymentstatementline", "billing_invoice", "billing_invoiceline",
    "billing_invoicetaxtotal", "billing_feechargeditem", "billing_insurerpayment", "billing_claimadjustment",
    "billing_ledgerentry", "billing_transferline", "billing_transferitem", "agency_collectivecontract",
    "agency_collectiveinsurer", "agency_collectiveinstitution", "agency_collectivepricetable",
    "agency_collectivepriceotheritem", "intake_annualreport", "intake_annualreportgeneration",
}


@pytest.fixture(scope="module")
def app_role(django_db_setup: Any, django_db_blocker: Any) -> str:
    """The application's role for the test database, created and granted (committed) as the owner."""
    name = f"{connection.settings_dict['NAME']}_app"[:63]
    with django_db_blocker.unblock():
        app_role_grant(connection, name, create_with_password="test-only-app-role-password")
    return name


@pytest.fixture
def as_app_role(db: Any, app_role: str) -> str:
    """The rest of the test's transaction runs as the application's role (SET LOCAL: until its rollback)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(app_role)}")
        cursor.execute("SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
        assert cursor.fetchone() == (app_role, False)
    return app_role


@pytest.fixture
def two_tenants(db: Any, contract_a: Any, contract_b: Any) -> dict[str, Any]:
    """Routed records, deliveries and 過誤 returns of two insurer/institution pairs (written as the owner)."""
    a = routed_sample(contract_a.insurer, contract_a.institution)
    b = routed_sample(contract_b.insurer, contract_b.institution)
    for sample, contract in ((a, contract_a), (b, contract_b)):
        Finding.objects.create(submission_id=sample["submission"], record_id=sample["record"], code="REC_X", severity="warning",
                               return_reason="", file="", xpath="", message="")
        Finding.objects.create(submission_id=sample["submission"], code="ARC_X", severity="error", return_reason="",
                               file="", xpath="", message="")
        _upload(contract.insurer, "tickets.csv")
    return {"a": a, "b": b, "contract_a": contract_a, "contract_b": contract_b}


def _upload(insurer: Any, name: str) -> EligibilityUpload:
    return EligibilityUpload.objects.create(insurer=insurer, file_name=name, sha256="0" * 64, row_count=0, created_count=0,
                                            updated_count=0)


def _visible(scope: str) -> dict[str, set[int]]:
    with tenancy.scope(scope):
        return {
            "submission": set(Submission.objects.values_list("pk", flat=True)),
            "record": set(Record.objects.values_list("pk", flat=True)),
            "delivery": set(Delivery.objects.values_list("pk", flat=True)),
            "item": set(DeliveryItem.objects.values_list("record_id", flat=True)),
            "return": set(InsurerReturn.objects.values_list("pk", flat=True)),
            "finding": set(Finding.objects.values_list("submission_id", flat=True)),
            "upload": set(EligibilityUpload.objects.values_list("insurer_id", flat=True)),
        }


def test_every_tenant_table_has_its_policy(db: Any) -> None:
    assert rls.tables_with_policies(connection) >= TENANT_TABLES
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relrowsecurity AND relname = ANY(%s)", [sorted(TENANT_TABLES)])
        assert {row[0] for row in cursor.fetchall()} == TENANT_TABLES


def test_each_scope_sees_its_own_rows_only(two_tenants: dict[str, Any], as_app_role: str) -> None:
    a, b = two_tenants["a"], two_tenants["b"]
    insurer_a = two_tenants["contract_a"].insurer
    institution_a = two_tenants["contract_a"].institution
    seen = _visible(tenancy.insurer(insurer_a.pk))
    assert seen["record"] == {a["record"], a["returned_record"]}
    assert seen["delivery"] == {a["delivery"]}
    assert seen["return"] == {a["insurer_return"]}
    assert seen["submission"] == {a["submission"]}
    assert seen["finding"] == {a["submission"]}  # the finding on its record, not the archive's
    assert seen["upload"] == {insurer_a.pk}
    seen = _visible(tenancy.institution(institution_a.pk))
    assert seen["submission"] == {a["submission"]}
    assert seen["record"] == {a["record"], a["returned_record"]}
    assert seen["return"] == {a["insurer_return"]}
    assert seen["delivery"] == {a["delivery"]}  # the delivery its returned record came back from
    assert seen["upload"] == set()
    nothing = _visible(tenancy.NONE)
    assert all(not rows for rows in nothing.values()), nothing
    everything = _visible(tenancy.AGENCY)
    assert everything["delivery"] == {a["delivery"], b["delivery"]}
    assert len(everything["record"]) == 4


def test_a_foreign_row_cannot_be_written(two_tenants: dict[str, Any], as_app_role: str) -> None:
    insurer_b = two_tenants["contract_b"].insurer
    with tenancy.scope(tenancy.insurer(two_tenants["contract_a"].insurer.pk)), pytest.raises(
        DatabaseError, match="row-level security"
    ), transaction.atomic():
        _upload(insurer_b, "forged.csv")
    with tenancy.scope(tenancy.insurer(two_tenants["contract_a"].insurer.pk)):
        # an update of a foreign row finds nothing to update
        assert Delivery.objects.filter(pk=two_tenants["b"]["delivery"]).update(status="acknowledged") == 0


def _raw_records(request: HttpRequest) -> JsonResponse:
    """A view that bypasses every access function: all records, as the ORM returns them."""
    return JsonResponse({"records": sorted(Record.objects.values_list("pk", flat=True)),
                         "raw": sorted(r.pk for r in Record.objects.raw("SELECT id FROM intake_record"))})


_raw_records.login_required = True  # type: ignore[attr-defined]

urlpatterns = [path("raw-records/", _raw_records, name="raw_records"), *portal_urls.urlpatterns]


def test_a_view_bypassing_the_access_functions_still_gets_no_foreign_rows(
    two_tenants: dict[str, Any], as_app_role: str, make_user: Callable[..., User]
) -> None:
    a = two_tenants["a"]
    insurer_user = make_user(Role.INSURER_STAFF, insurer=two_tenants["contract_a"].insurer)
    institution_user = make_user(Role.INSTITUTION_STAFF, institution=two_tenants["contract_a"].institution)
    clerk = make_user(Role.AGENCY_CLERK)
    with override_settings(ROOT_URLCONF=__name__):
        for user in (insurer_user, institution_user):
            body = login_verified(Client(), user).get("/raw-records/").json()
            assert body == {"records": sorted([a["record"], a["returned_record"]]), "raw": sorted([a["record"], a["returned_record"]])}
        assert len(login_verified(Client(), clerk).get("/raw-records/").json()["records"]) == 4
        assert Client().get("/raw-records/").status_code == 302  # anonymous: to the login page


def test_the_portal_works_under_the_application_role(
    two_tenants: dict[str, Any], as_app_role: str, make_user: Callable[..., User]
) -> None:
    a, b = two_tenants["a"], two_tenants["b"]
    insurer_a = two_tenants["contract_a"].insurer
    insurer = login_verified(Client(), make_user(Role.INSURER_STAFF, insurer=insurer_a))
    assert insurer.get(f"/insurer/records/{a['record']}/").status_code == 200
    assert insurer.get(f"/insurer/records/{b['record']}/").status_code == 404
    assert insurer.get(f"/insurer/deliveries/{a['delivery']}/").status_code == 200
    assert insurer.get(f"/insurer/deliveries/{b['delivery']}/").status_code == 404
    institution = login_verified(Client(), make_user(Role.INSTITUTION_STAFF, institution=two_tenants["contract_a"].institution))
    assert institution.get(f"/intake/submissions/{a['submission']}/").status_code == 200
    assert institution.get(f"/intake/submissions/{b['submission']}/").status_code == 404
    with override_settings(TRUSTED_PROXIES=[f"{PROXY}/32"]):
        machine = machine_for(actor=make_user(Role.AGENCY_ADMIN), insurer=insurer_a, name="保険者システム")
        listed = Client().get("/api/v1/deliveries/", **machine.headers())
        assert listed.status_code == 200
        assert [d["id"] for d in listed.json()["results"]] == [a["delivery"]]
        assert Client().get(f"/api/v1/deliveries/{b['delivery']}/", **machine.headers()).status_code == 404


def test_the_application_role_cannot_lift_the_guards(db: Any, app_role: str) -> None:
    """Connected as the application's role: no trigger dropped or disabled, no policy lifted, no row changed."""
    settings = connection.settings_dict
    attempts = [
        "DROP TRIGGER audit_auditevent_no_update_delete ON audit_auditevent",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
        "UPDATE audit_auditevent SET action = 'forged'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
        "ALTER TABLE intake_record DISABLE ROW LEVEL SECURITY",
        "DROP POLICY tenant_scope ON intake_record",
        "ALTER TABLE intake_record NO FORCE ROW LEVEL SECURITY",
        "UPDATE billing_ledgerentry SET amount = 0",
    ]
    with psycopg.connect(host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432, dbname=settings["NAME"],
                         user=app_role, password="test-only-app-role-password", autocommit=True) as conn:
        for statement in attempts:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_auditevent").fetchone() is not None


def test_the_grant_command_refuses_a_role_that_bypasses_the_guards(db: Any) -> None:
    with pytest.raises(CommandError, match="superuser"):
        call_command("db_grant_app_role", connection.settings_dict["USER"] or "postgres")


def test_the_month_close_writes_its_rows_under_the_application_role(two_tenants: dict[str, Any], as_app_role: str) -> None:
    """The close writes its statement lines and charged fee items without a model per row: as the
    application's role, under row-level security (which refuses COPY FROM), with the agency's scope."""
    period = calendar.month_start(timezone.localdate())
    with tenancy.scope(tenancy.AGENCY):
        AgencyProfileFactory(**AGENCY)
        month = billing_month_get(period)
        closed = month_close(period=period, now=month.cutoff_at + dt.timedelta(minutes=1))
        lines = ClaimsStatementLine.objects.filter(statement__month=month)
        billed = set(lines.filter(kind=LineKind.CLAIM).values_list("record_id", flat=True))
        charged = FeeChargedItem.objects.filter(invoice_line__invoice__month=month).count()
    assert {two_tenants["a"]["record"], two_tenants["b"]["record"]} <= billed
    assert {summary.number for summary in closed.insurers} == {
        two_tenants["contract_a"].insurer.number, two_tenants["contract_b"].insurer.number}
    assert charged >= 2
def test_an_insurers_own_upload_is_its_own_and_no_one_elses(two_tenants: dict[str, Any], as_app_role: str) -> None:
    """An insurer's own 事業者健診等 upload (``Submission.insurer``): written and read in its scope, with its
    archive-level findings; invisible to the other insurer and to institutions."""
    insurer_a, insurer_b = two_tenants["contract_a"].insurer, two_tenants["contract_b"].insurer
    with tenancy.scope(tenancy.AGENCY):
        archive = StoredArchiveFactory()
    with tenancy.scope(tenancy.insurer(insurer_a.pk)):
        own = SubmissionFactory(institution=None, insurer=insurer_a, archive=archive)
    with tenancy.scope(tenancy.AGENCY):
        Finding.objects.create(submission=own, code="AGY_INSURER_SERVICE", severity="error", return_reason="04", file="",
                               xpath="", message="")
    seen = _visible(tenancy.insurer(insurer_a.pk))
    assert own.pk in seen["submission"] and own.pk in seen["finding"]
    for scope in (tenancy.insurer(insurer_b.pk), tenancy.institution(two_tenants["contract_a"].institution.pk)):
        seen = _visible(scope)
        assert own.pk not in seen["submission"] and own.pk not in seen["finding"]
    with tenancy.scope(tenancy.insurer(insurer_b.pk)), pytest.raises(DatabaseError, match="row-level security"), \
            transaction.atomic():
        SubmissionFactory(institution=None, insurer=insurer_a, archive=StoredArchive.objects.create(sha256="1" * 64, size=1))
