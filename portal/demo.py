"""The demo's history: several months of the agency's work, done through the services, so that every home
page and list shows real figures on first start.

Only for the embedded demo (``settings.PORTAL_DEMO``, refused elsewhere by ``agency.demo``). The parties and
logins come from ``agency.demo.seed_demo``; the history is added once, to a database in which the demo
institutions have sent nothing yet, in one transaction (a failure leaves nothing behind).

What happens, for each of the last four months ``s`` (the month of the checkups), in the order of the calendar:

* early in the following month the clinic uploads its archive of ``s`` (two records returned: ticket expired,
  copay recomputed differently; in some months an item the master does not know, a warning), the centre sends
  its own by e-mail or on media;
* a clerk confirms the warnings, routes the accepted records; the health insurance society downloads and
  acknowledges its deliveries in the portal, the mutual-aid association's system through the API;
* after the cut-off the administrator closes ``s``: claims statements, payment statements, fee invoices;
* the clinic resubmits the corrected records (月遅れ in the next month's statements);
* insurers pay their statements and invoices, the administrator makes the 全銀 transfer to the institutions;
* the auditor signs the review of the month's audit log;
* an insurer returns a routed record (過誤) twice, and the clinic corrects the first.

The services take the moment from the clock (``timezone.now()``), so each step runs with the clock set to
its moment (``time_machine``); steps whose moment has not come yet are left out. Last, at the real time:
today's uploads (a warning left for the clerk, a return to correct), a routing run, and an archive sent a
second time by another institution's address (refused, audited as denied).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.db import transaction
from django.utils import timezone

from agency import demo as agency_demo
from agency.clientcert import ApiClientPrincipal
from agency.models import AgencyProfile, ClientCertificate, Contract, Institution, Insurer, User
from agency.services import api_client_create, client_certificate_register
from billing import calendar
from billing.models import BillingMonth, ClaimsStatement, Invoice, InvoiceKind, InvoiceStatus
from billing.services import agency_bank_account_save, insurer_payment_record, month_close, transfer_batch_create
from compliance.services.checklist import audit_review_sign
from intake import checks, pipeline
from intake.models import Channel, Finding, Record, RecordStatus, Submission
from intake.services.receive import ReceiveRefused, submission_receive
from intake.services.review import finding_override_warning
from kenshin.rules import fiscal_year_end
from kenshin.synth.generator import GeneratedArchive, GeneratorConfig, generate, resubmission
from kenshin.synth.parties import Parties, SynthContract, SynthInstitution, SynthInsurer
from routing.models import Delivery, DeliveryChannel, DeliveryStatus, InsurerReturnReason
from routing.services.deliveries import deliveries_route, delivery_acknowledge, delivery_download
from routing.services.returns import insurer_return_create

logger = logging.getLogger(__name__)

HISTORY_MONTHS = 4
CLINIC, CENTRE = "1319990014", "2719990034"  # the demo institutions (agency.demo.INSTITUTIONS)
SOCIETY, MUTUAL = "06139992", "01139997"  # the demo insurers; the society's staff log in as demo-insurer
CENTRE_SENDER = "center@example.jp"
RETURNED = ("ticket_expired", "copay_mismatch")
WARNING = "unknown_item_code"
AGENCY_ACCOUNT = {
    "requester_code": "1234567890", "requester_name_kana": "ﾎｰﾑﾈﾂﾄ(ｶ", "bank_code": "0005", "bank_name_kana": "ﾐﾂﾋﾞｼﾕｰｴﾌｼﾞｪｲ",
    "branch_code": "123", "branch_name_kana": "ﾅｶﾉ", "account_type": "1", "account_number": "7654321",
}


@dataclass
class Cast:
    """Who acts in the history, and what it has made so far."""

    admin: User
    clerk: User
    auditor: User
    insurer_staff: User
    institution_staff: User
    institutions: dict[str, Institution]
    insurers: dict[str, Insurer]
    agency_code: str
    machine: ApiClientPrincipal | None = None
    # (institution number, month) → the generator's configuration and the submission it became
    configs: dict[tuple[str, dt.date], GeneratorConfig] = field(default_factory=dict)
    submissions: dict[tuple[str, dt.date], Submission] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    label: str
    run: Callable[[Cast], None]


def _moment(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=calendar.JST)


def _business_day(month: dt.date, day: int) -> dt.date:
    """The ``day``-th of ``month``, or the first business day after it."""
    return calendar.next_business_day(month.replace(day=day))


def _fiscal_year(day: dt.date) -> int:
    return fiscal_year_end(day).year - 1


# --- the parties as the generator sees them ---------------------------------------------------------------------


def _parties(institution: Institution) -> Parties:
    contracts = list(Contract.objects.filter(institution=institution).select_related("insurer").order_by("insurer__number"))
    return Parties(
        insurers=tuple(SynthInsurer(c.insurer.number, c.insurer.name) for c in contracts),
        institutions=(
            SynthInstitution(institution.number, institution.name, institution.postal_code or "1000005",
                             institution.address or None, institution.phone or "03-0000-0000"),
        ),
        contracts=tuple(
            SynthContract(c.insurer.number, institution.number, c.valid_from, c.valid_to, checks.contract_terms(c))
            for c in contracts
        ),
    )


def _archive(config: GeneratorConfig, institution: Institution) -> GeneratedArchive:
    return next(generate(config, _parties(institution)))


def _config(cast: Cast, institution: str, *, made_on: dt.date, checkups_from: dt.date, serial: int, records: int,
            defects: tuple[str, ...]) -> GeneratorConfig:
    """An archive of one institution: its people are its own (seed, tickets) for every ``serial``."""
    offset = (1 if institution == CENTRE else 0) * 50_000 + serial * 100
    return GeneratorConfig(
        year=_fiscal_year(checkups_from), records=records, seed=7_000 + offset, defects=defects,
        agency_number=cast.agency_code, created_on=made_on, checkups_from=checkups_from, ticket_offset=offset,
    )


# --- the steps ------------------------------------------------------------------------------------------------


def _receive(cast: Cast, archive: GeneratedArchive, *, institution: str, channel: str, actor: Any = None,
             actor_label: str = "") -> Submission:
    received = submission_receive(
        source=archive.data, file_name=archive.filename, institution=cast.institutions[institution], channel=channel,
        actor=actor, actor_label=actor_label, enqueue=False,
    )
    return pipeline.process_inline(received.submission.pk)


def _upload(institution: str, month: dt.date, serial: int, *, made_on: dt.date, checkups_from: dt.date, records: int,
            defects: tuple[str, ...], channel: str) -> Callable[[Cast], None]:
    def run(cast: Cast) -> None:
        config = _config(cast, institution, made_on=made_on, checkups_from=checkups_from, serial=serial, records=records,
                         defects=defects)
        archive = _archive(config, cast.institutions[institution])
        if channel == Channel.UPLOAD:
            submission = _receive(cast, archive, institution=institution, channel=channel, actor=cast.institution_staff)
        elif channel == Channel.MEDIA:
            submission = _receive(cast, archive, institution=institution, channel=channel, actor=cast.clerk)
        else:
            submission = _receive(cast, archive, institution=institution, channel=channel, actor_label=CENTRE_SENDER)
        cast.configs[(institution, month)] = config
        cast.submissions[(institution, month)] = submission

    return run


def _confirm_warnings(cast: Cast) -> None:
    warnings = Finding.objects.filter(
        severity=Finding.Severity.WARNING, overridden_at__isnull=True, record__status=RecordStatus.ACCEPTED, code="OBS_UNKNOWN_CODE"
    )
    for finding in warnings.order_by("pk"):
        finding_override_warning(
            finding=finding, actor=cast.clerk,
            reason="院内独自項目（健診機関に確認済み）。特定健診の項目ではないため、送付に支障なし。",
        )


def _route(cast: Cast) -> None:
    deliveries_route(actor=cast.clerk)


def _fetch(cast: Cast) -> None:
    """The society downloads and acknowledges in the portal, the mutual-aid association's system through the API."""
    for delivery in Delivery.objects.filter(status=DeliveryStatus.READY).select_related("insurer", "archive").order_by("pk"):
        if delivery.insurer.number == SOCIETY:
            delivery_download(delivery=delivery, actor=cast.insurer_staff, request=None, channel=DeliveryChannel.WEB)
            delivery_acknowledge(delivery=delivery, actor=cast.insurer_staff)
        elif cast.machine is not None:
            delivery_download(delivery=delivery, actor=cast.machine, request=None, channel=DeliveryChannel.API)
            delivery_acknowledge(delivery=delivery, actor=cast.machine)


def _close(month: dt.date) -> Callable[[Cast], None]:
    def run(cast: Cast) -> None:
        month_close(period=month, actor=cast.admin)

    return run


def _resubmit(month: dt.date, serial: int, made_on: dt.date) -> Callable[[Cast], None]:
    """The clinic sends again, corrected, the records of its archive of ``month`` that are returned."""

    def run(cast: Cast) -> None:
        submission = cast.submissions.get((CLINIC, month))
        if submission is None:
            return
        returned = list(
            Record.objects.filter(submission=submission, status=RecordStatus.RETURNED, replaced_by__isnull=True)
            .order_by("position").values_list("data_path", flat=True)
        )
        if not returned:
            return
        config = replace(cast.configs[(CLINIC, month)], defects=())
        corrected = resubmission(_archive(config, cast.institutions[CLINIC]), returned, created_on=made_on,
                                 agency_number=cast.agency_code)
        _receive(cast, corrected, institution=CLINIC, channel=Channel.UPLOAD, actor=cast.institution_staff)

    return run


def _insurer_return(month: dt.date, reason: str, note: str) -> Callable[[Cast], None]:
    """The society returns (過誤) one record of the clinic's archive of ``month`` that it received."""

    def run(cast: Cast) -> None:
        submission = cast.submissions.get((CLINIC, month))
        record = (
            Record.objects.filter(submission=submission, status=RecordStatus.ACCEPTED, insurer__number=SOCIETY,
                                  delivery_item__isnull=False, replaces__isnull=True)
            .order_by("-position").first()
            if submission is not None else None
        )
        if record is not None:
            insurer_return_create(record=record, reason=reason, note=note, actor=cast.insurer_staff)

    return run


def _pay(month: dt.date, *, invoices: bool) -> Callable[[Cast], None]:
    """Insurers pay the month's claims statements (and fee invoices); the clerk records what came in."""

    def run(cast: Cast) -> None:
        today = timezone.localdate()
        for statement in ClaimsStatement.objects.filter(month__period=month, total__gt=0).select_related("insurer"):
            insurer_payment_record(
                amount=statement.total, received_on=today, claims_statement=statement, payer_name=statement.insurer_name,
                reference=statement.number, actor=cast.clerk,
            )
        if invoices:
            for invoice in Invoice.objects.filter(month__period=month, kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED,
                                                  total__gt=0):
                insurer_payment_record(
                    amount=invoice.total, received_on=today, invoice=invoice, payer_name=invoice.insurer.name,
                    reference=invoice.number or "", actor=cast.clerk,
                )

    return run


def _transfer(month: dt.date) -> Callable[[Cast], None]:
    def run(cast: Cast) -> None:
        billing_month = BillingMonth.objects.filter(period=month).first()
        if billing_month is not None and billing_month.is_closed:
            transfer_batch_create(month=billing_month, transfer_date=calendar.next_business_day(
                timezone.localdate() + dt.timedelta(days=1)), actor=cast.admin)

    return run


def _review(month: dt.date) -> Callable[[Cast], None]:
    def run(cast: Cast) -> None:
        start, end = calendar.month_bounds(month)
        audit_review_sign(
            reviewer=cast.auditor, period_start=start, period_end=end,
            notes=f"{calendar.period_label(month)} の監査ログを確認。拒否・ロック・時間外の操作に問題なし。",
        )

    return run


def _machine_certificate(insurer: Insurer, now: dt.datetime) -> str:
    """A self-signed client certificate of the insurer's system (PEM), as its TLS proxy would have verified."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, insurer.name),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, insurer.number),
        x509.NameAttribute(NameOID.COMMON_NAME, "kenshin-receiver"),
    ])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _set_up(cast: Cast) -> None:
    """The agency's paying account, and the mutual-aid association's system registered for the API."""
    agency_bank_account_save(values=dict(AGENCY_ACCOUNT), actor=cast.admin)
    insurer = cast.insurers[MUTUAL]
    client, _token = api_client_create(name="健診データ受信システム", insurer=insurer, actor=cast.admin)
    registered: ClientCertificate = client_certificate_register(
        api_client=client, pem=_machine_certificate(insurer, timezone.now()), actor=cast.admin
    )
    cast.machine = ApiClientPrincipal(client, registered)


def _plan(now: dt.datetime) -> list[Step]:
    this_month = calendar.month_start(timezone.localdate(now))
    first = calendar.add_months(this_month, -HISTORY_MONTHS)
    steps = [Step(_moment(first, 9, 0), "set-up", _set_up)]
    for serial, month in enumerate(calendar.add_months(first, n) for n in range(HISTORY_MONTHS)):
        following = calendar.next_month(month)
        clinic_day, centre_day = _business_day(following, 2), _business_day(following, 3)
        confirm_day = calendar.next_business_day(centre_day + dt.timedelta(days=1))
        fetch_day = calendar.next_business_day(confirm_day + dt.timedelta(days=1))
        cutoff_day = timezone.localtime(calendar.cutoff_for(month)).date()
        close_day = calendar.next_business_day(cutoff_day + dt.timedelta(days=1))
        resubmit_day = _business_day(following, 12)
        clinic_defects = (*RETURNED, WARNING) if serial % 2 else RETURNED
        centre_defects = (WARNING,) if serial % 2 == 0 else ("missing_required_item",)
        steps += [
            Step(_moment(clinic_day, 10, 15), "clinic uploads", _upload(
                CLINIC, month, serial, made_on=following, checkups_from=month, records=10, defects=clinic_defects,
                channel=Channel.UPLOAD)),
            Step(_moment(centre_day, 14, 40), "centre sends", _upload(
                CENTRE, month, serial, made_on=following, checkups_from=month, records=7, defects=centre_defects,
                channel=Channel.EMAIL if serial % 2 == 0 else Channel.MEDIA)),
            Step(_moment(_business_day(following, 3), 17, 0), "review", _review(month)),
            Step(_moment(confirm_day, 11, 0), "warnings confirmed", _confirm_warnings),
            Step(_moment(confirm_day, 16, 30), "routing", _route),
            Step(_moment(fetch_day, 9, 40), "deliveries fetched", _fetch),
            Step(_moment(close_day, 10, 0), "month closed", _close(month)),
            Step(_moment(resubmit_day, 10, 5), "clinic resubmits", _resubmit(month, serial, resubmit_day)),
            Step(_moment(resubmit_day, 16, 30), "routing", _route),
            Step(_moment(calendar.next_business_day(resubmit_day + dt.timedelta(days=1)), 9, 40), "deliveries fetched", _fetch),
            Step(_moment(_business_day(following, 20), 11, 0), "payments", _pay(month, invoices=serial < HISTORY_MONTHS - 1)),
            Step(_moment(_business_day(following, 25), 10, 0), "transfer", _transfer(month)),
        ]
    # 過誤: the society returns a record of the first month (corrected, then routed again) and one of the third.
    first_following = calendar.next_month(first)
    return_day = _business_day(first_following, 17)
    correction_day = _business_day(first_following, 24)
    steps += [
        Step(_moment(return_day, 15, 0), "insurer return", _insurer_return(
            first, InsurerReturnReason.AFTER_LOSS, "健診実施日時点で資格喪失済み（喪失日の翌日以降の受診）")),
        Step(_moment(correction_day, 10, 5), "clinic corrects", _resubmit(first, 0, correction_day)),
        Step(_moment(correction_day, 16, 30), "routing", _route),
    ]
    third = calendar.add_months(first, 2)
    steps.append(Step(_moment(_business_day(calendar.next_month(third), 18), 14, 20), "insurer return", _insurer_return(
        third, InsurerReturnReason.CARD_NUMBER, "被保険者証の記号が当組合の記録と一致しません")))
    return sorted((step for step in steps if step.at < now - dt.timedelta(minutes=5)), key=lambda step: step.at)


def _today(cast: Cast) -> None:
    """At the real time: today's uploads, a routing run between them, and an archive sent twice."""
    today = timezone.localdate()
    since = today - dt.timedelta(days=20)
    clinic = _config(cast, CLINIC, made_on=today, checkups_from=since, serial=90, records=8, defects=(RETURNED[0],))
    archive = _archive(clinic, cast.institutions[CLINIC])
    _receive(cast, archive, institution=CLINIC, channel=Channel.UPLOAD, actor=cast.institution_staff)
    deliveries_route(actor=cast.clerk)
    centre = _config(cast, CENTRE, made_on=today, checkups_from=since, serial=90, records=6, defects=(WARNING,))
    _receive(cast, _archive(centre, cast.institutions[CENTRE]), institution=CENTRE, channel=Channel.EMAIL,
             actor_label=CENTRE_SENDER)
    with contextlib.suppress(ReceiveRefused):  # the centre's address sends the clinic's archive: refused, audited
        submission_receive(source=archive.data, file_name=archive.filename, institution=cast.institutions[CENTRE],
                           channel=Channel.EMAIL, actor_label=CENTRE_SENDER, enqueue=False)


def history_exists() -> bool:
    return Submission.objects.filter(institution__number__in=(CLINIC, CENTRE)).exists()


def _history_start(now: dt.datetime) -> dt.date:
    return calendar.add_months(calendar.month_start(timezone.localdate(now)), -HISTORY_MONTHS)


def seed_history(users: list[User]) -> bool:
    """Add the demo's history once (see the module's docstring); False when it is there already."""
    if history_exists():
        return False
    by_name = {user.username: user for user in users}
    cast = Cast(
        admin=by_name["demo-admin"], clerk=by_name["demo-clerk"], auditor=by_name["demo-auditor"],
        insurer_staff=by_name["demo-insurer"], institution_staff=by_name["demo-institution"],
        institutions={i.number: i for i in Institution.objects.filter(number__in=(CLINIC, CENTRE))},
        insurers={i.number: i for i in Insurer.objects.filter(number__in=(SOCIETY, MUTUAL))},
        agency_code=AgencyProfile.objects.values_list("agency_code", flat=True).get(),
    )
    with transaction.atomic():
        for step in _plan(timezone.now()):
            with time_machine.travel(step.at, tick=False):
                logger.debug("demo history %s: %s", step.at.isoformat(), step.label)
                step.run(cast)
        _today(cast)
    return True


@transaction.atomic
def seed_demo() -> list[User]:
    """Parties, logins (``agency.demo``) and, once, the history; returns the demo users.

    On a first load the parties and logins are registered the day before the history starts, so that the
    audit log runs forward in time; the maintenance window of the demo login is then opened now.
    """
    if not history_exists():
        with time_machine.travel(_moment(_history_start(timezone.now()) - dt.timedelta(days=1), 9, 0), tick=False):
            agency_demo.seed_demo()
    users = agency_demo.seed_demo()
    seed_history(users)
    return users
