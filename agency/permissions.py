"""Named permissions and the role → permission matrix.

Views declare the one permission they need with ``@permission_required_for_role(Perm.X)`` (HTML) or
``permission = Perm.X`` (REST framework). The matrix below is the only place that says which role
holds which permission; tests walk every URL for every role against it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from core.http import request_audit

from .models import Role

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])


class Perm(StrEnum):
    PORTAL_HOME = "portal.home"
    PARTIES_VIEW = "agency.view_parties"
    PARTIES_MANAGE = "agency.manage_parties"  # insurers, institutions, contracts, senders, API clients (設定)
    CONTRACTS_VIEW = "agency.view_contracts"
    USERS_VIEW = "agency.view_users"
    USERS_MANAGE = "agency.manage_users"  # create, change, disable accounts; identity-verified reset links
    AUDIT_VIEW = "audit.view_events"
    INTAKE_UPLOAD = "intake.upload"  # an institution sends its own archives
    INTAKE_IMPORT = "intake.import_media"  # clerks register archives received on media or by e-mail
    INTAKE_VIEW = "intake.view_submissions"
    INTAKE_WORKBENCH = "intake.workbench"
    INTAKE_OVERRIDE = "intake.override_warning"
    INTAKE_RULES = "intake.view_rules"
    AUDIT_EXPORT = "audit.export_events"
    AUDIT_SIGN_REVIEW = "audit.sign_review"
    COMPLIANCE_VIEW = "compliance.view_dashboard"
    COMPLIANCE_MANAGE = "compliance.manage_items"  # attest, plan, run probes
    INCIDENT_DECLARE = "compliance.declare_incident"  # break-glass: two officers declare, one closes
    MAINTENANCE_APPROVE = "compliance.approve_maintenance"
    DISPOSAL_APPROVE = "compliance.approve_disposal"
    BILLING_VIEW = "billing.view_statements"  # the billing pages, each party its own documents
    BILLING_INSURER_DOCS = "billing.view_insurer_documents"  # claims statements and fee invoices (insurer side)
    BILLING_PAYMENT_STATEMENTS = "billing.view_payment_statements"  # payment statements (institution side)
    BILLING_PAYMENTS = "billing.record_payments"  # record and import insurer payments
    BILLING_MANAGE = "billing.manage"  # close months, transfers, cancel invoices, billing settings
    ROUTING_RUN = "intake.route"  # 振分: route now, the routing dry run, offline media
    DELIVERIES_VIEW = "intake.view_deliveries"  # deliveries and the records routed in them
    DELIVERIES_DOWNLOAD = "intake.download_deliveries"  # an insurer fetches and acknowledges its deliveries
    RETURNS_CREATE = "intake.create_returns"  # 過誤 by an insurer
    RETURNS_VIEW = "intake.view_returns"  # 過誤 and their archives (insurer, institution, agency)
    ELIGIBILITY_UPLOAD = "intake.upload_eligibility"  # an insurer's issued 受診券
    ANNUAL_REPORT = "intake.annual_report"  # an insurer's 実施結果報告: 対象者数, generate, download
    OTHER_CHECKUP_UPLOAD = "intake.upload_other_checkups"  # an insurer's own 事業者健診等 (実施区分 4)


_AGENCY_READ = {Perm.PORTAL_HOME, Perm.PARTIES_VIEW, Perm.CONTRACTS_VIEW, Perm.INTAKE_VIEW, Perm.INTAKE_RULES}
_INTAKE_CLERK = {Perm.INTAKE_IMPORT, Perm.INTAKE_WORKBENCH, Perm.INTAKE_OVERRIDE}
_COMPLIANCE_ADMIN = {
    Perm.AUDIT_EXPORT, Perm.COMPLIANCE_VIEW, Perm.COMPLIANCE_MANAGE, Perm.INCIDENT_DECLARE,
    Perm.MAINTENANCE_APPROVE, Perm.DISPOSAL_APPROVE,
}

_ROUTING_AGENCY = {Perm.ROUTING_RUN, Perm.DELIVERIES_VIEW, Perm.RETURNS_VIEW}
_ROUTING_INSURER = {
    Perm.DELIVERIES_VIEW, Perm.DELIVERIES_DOWNLOAD, Perm.RETURNS_CREATE, Perm.RETURNS_VIEW, Perm.ELIGIBILITY_UPLOAD,
    Perm.ANNUAL_REPORT,
    Perm.OTHER_CHECKUP_UPLOAD,
}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.AGENCY_ADMIN: frozenset(
        {*_AGENCY_READ, *_INTAKE_CLERK, *_COMPLIANCE_ADMIN, *_ROUTING_AGENCY, Perm.PARTIES_MANAGE, Perm.USERS_VIEW,
         Perm.USERS_MANAGE, Perm.AUDIT_VIEW}
    ),
    Role.AGENCY_CLERK: frozenset({*_AGENCY_READ, *_INTAKE_CLERK, *_ROUTING_AGENCY}),
    Role.AUDITOR: frozenset(
        {Perm.PORTAL_HOME, Perm.AUDIT_VIEW, Perm.AUDIT_EXPORT, Perm.AUDIT_SIGN_REVIEW, Perm.COMPLIANCE_VIEW,
         Perm.USERS_VIEW, Perm.INTAKE_RULES}
    ),
    Role.INSURER_STAFF: frozenset(
        {Perm.PORTAL_HOME, Perm.PARTIES_VIEW, Perm.CONTRACTS_VIEW, Perm.INTAKE_RULES, *_ROUTING_INSURER}
    ),
    Role.INSTITUTION_STAFF: frozenset(
        {Perm.PORTAL_HOME, Perm.PARTIES_VIEW, Perm.CONTRACTS_VIEW, Perm.INTAKE_UPLOAD, Perm.INTAKE_VIEW, Perm.INTAKE_RULES,
         Perm.RETURNS_VIEW}
    ),
    Role.MAINTENANCE: frozenset({Perm.PORTAL_HOME, Perm.INTAKE_RULES}),
}

# Billing: agency staff see everything, an insurer its statements and invoices, an institution its payment statements.
_BILLING_GRANTS: dict[str, set[Perm]] = {
    Role.AGENCY_ADMIN: {Perm.BILLING_VIEW, Perm.BILLING_INSURER_DOCS, Perm.BILLING_PAYMENT_STATEMENTS, Perm.BILLING_PAYMENTS,
                        Perm.BILLING_MANAGE},
    Role.AGENCY_CLERK: {Perm.BILLING_VIEW, Perm.BILLING_INSURER_DOCS, Perm.BILLING_PAYMENT_STATEMENTS, Perm.BILLING_PAYMENTS},
    Role.AUDITOR: {Perm.BILLING_VIEW, Perm.BILLING_INSURER_DOCS, Perm.BILLING_PAYMENT_STATEMENTS},
    Role.INSURER_STAFF: {Perm.BILLING_VIEW, Perm.BILLING_INSURER_DOCS},
    Role.INSTITUTION_STAFF: {Perm.BILLING_VIEW, Perm.BILLING_PAYMENT_STATEMENTS},
}
ROLE_PERMISSIONS = {role: frozenset({*perms, *_BILLING_GRANTS.get(role, ())}) for role, perms in ROLE_PERMISSIONS.items()}


def role_has_perm(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


def user_has_perm(user: Any, perm: Perm) -> bool:
    return bool(user.is_authenticated and user.is_active and role_has_perm(user.role, perm))


def permission_required_for_role(perm: Perm) -> Callable[[ViewFunc], ViewFunc]:
    """Refuse (403, audited as denied) a user whose role lacks ``perm``."""

    def decorate(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not user_has_perm(request.user, perm):
                audit = request_audit(request)
                audit.denied = True
                audit.detail["permission"] = str(perm)
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_permission = perm  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate
