"""E-mail notifications through Django's mail backend (the console backend in the demo).

* ``receipt``: a submission has been checked — to the institution's users (here);
* ``delivery``: a new delivery for an insurer — to that insurer's users (``routing.notices``);
* ``return``: an insurer's 過誤 — to the institution's users (``routing.notices``).

Messages carry no personal data: file names, receipt numbers, counts and where to look in the
portal. Each user may opt out per kind (``NotificationPreference``). A notification is sent at most
once per user and object (``NotificationSent`` is claimed before the mail goes out), so a retried
task sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.links import absolute_url
from agency.models import Role, User
from audit.services import audit_record

from .models import (
    NotificationKind,
    NotificationPreference,
    NotificationSent,
    Submission,
    SubmissionStatus,
)

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[代行機関ポータル] "
RECEIPT_SWEEP_DAYS = 2

KINDS_FOR_ROLE = {
    Role.INSURER_STAFF: (NotificationKind.DELIVERY,),
    Role.INSTITUTION_STAFF: (NotificationKind.RETURN, NotificationKind.RECEIPT),
}


def kinds_for(user: Any) -> tuple[NotificationKind, ...]:
    return KINDS_FOR_ROLE.get(user.role, ())


def preference_for(user: Any) -> NotificationPreference:
    """The user's preference row, or an unsaved default (every kind on)."""
    found = NotificationPreference.objects.filter(user_id=user.pk).first()
    return found if found is not None else NotificationPreference(user_id=user.pk)


def notification_preference_save(
    *, user: User, opt_outs: dict[str, bool], actor: Any, request: HttpRequest | None = None
) -> NotificationPreference:
    """Store the user's opt-outs for the kinds that concern their role (audited with old and new)."""
    with transaction.atomic():
        preference, _created = NotificationPreference.objects.select_for_update().get_or_create(user=user)
        old = {kind.value: preference.opted_out(kind.value) for kind in NotificationKind}
        changed: list[str] = []
        for kind in kinds_for(user):
            value = bool(opt_outs.get(kind.value, False))
            setattr(preference, f"opt_out_{kind.value}", value)
            changed.append(f"opt_out_{kind.value}")
        preference.full_clean()
        preference.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="notification.preference.changed",
            actor=actor,
            request=request,
            object_type="user",
            object_ids=[user.pk],
            detail={"old": old, "new": {kind.value: preference.opted_out(kind.value) for kind in NotificationKind}},
        )
    return preference


def _recipients(kind: str, *, insurer_id: int | None = None, institution_id: int | None = None) -> list[User]:
    users = User.objects.filter(is_active=True).exclude(email="")
    if insurer_id is not None:
        users = users.filter(role=Role.INSURER_STAFF, insurer_id=insurer_id)
    else:
        users = users.filter(role=Role.INSTITUTION_STAFF, institution_id=institution_id)
    opted_out = NotificationPreference.objects.filter(**{f"opt_out_{kind}": True}).values("user_id")
    return list(users.exclude(pk__in=opted_out).order_by("pk"))


def link(path: str) -> str:
    """The absolute address of a portal page, for the body of a message."""
    return absolute_url(path)


@dataclass(frozen=True)
class Message:
    """One notification's text and who it concerns: an insurer's users or an institution's."""

    subject: str
    body: str
    insurer_id: int | None = None
    institution_id: int | None = None


@dataclass(frozen=True)
class Notice:
    """A kind of notification and how its message is built from the object's id (None: nothing to send)."""

    kind: str
    message: Callable[[int], Message | None]


_notices: dict[str, Notice] = {}


def register(notice: Notice) -> None:
    """Make a kind of notification known to ``notify`` (routing registers deliveries and returns)."""
    _notices[notice.kind] = notice


def _receipt_message(submission_id: int) -> Message | None:
    submission = Submission.objects.select_related("institution", "insurer").filter(pk=submission_id, checked_at__isnull=False).first()
    if submission is None:
        return None
    subject = _("受付の点検が完了しました（受領番号 %(receipt)s）") % {"receipt": submission.receipt_number}
    body = _(
        "%(institution)s 御中\n\n受付 %(receipt)s（%(file)s）の事務点検が完了しました。\n\n"
        "結果: %(status)s\n受理: %(accepted)d件　返戻: %(returned)d件\n\n"
        "受領書と点検結果はポータルの「%(page)s」で確認できます。\n"
    ) % {
        "institution": submission.sender_name,
        "page": _("事業者健診等の送付") if submission.sent_by_insurer else _("受付状況"),
        "receipt": submission.receipt_number,
        "file": submission.file_name,
        "status": submission.get_status_display(),
        "accepted": submission.records_accepted,
        "returned": submission.records_returned,
    }
    return Message(subject, body, institution_id=submission.institution_id, insurer_id=submission.insurer_id)


RECEIPT = Notice(NotificationKind.RECEIPT.value, _receipt_message)


def _claim(kind: str, object_id: int, user: User) -> NotificationSent | None:
    try:
        with transaction.atomic():
            return NotificationSent.objects.create(kind=kind, object_id=object_id, user=user)
    except IntegrityError:
        return None


def notify(*, kind: str, object_id: int) -> int:
    """Send one kind of notification about one object to every user concerned; return how many were sent."""
    notice = _notices.get(kind)
    if notice is None:
        raise ValueError(f"unknown notification kind {kind!r}")
    message = notice.message(object_id)
    if message is None:
        return 0
    users = _recipients(kind, insurer_id=message.insurer_id, institution_id=message.institution_id)
    subject, body = message.subject, message.body
    sent = 0
    for user in users:
        claim = _claim(kind, object_id, user)
        if claim is None:
            continue  # already sent to this user
        try:
            send_mail(SUBJECT_PREFIX + subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
        except Exception:
            NotificationSent.objects.filter(pk=claim.pk).delete()  # let the retry send it
            raise
        sent += 1
    return sent


register(RECEIPT)


def receipts_sweep(*, days: int = RECEIPT_SWEEP_DAYS) -> int:
    """Receipts of submissions checked recently that were not notified (archives rejected as a whole
    never pass through record checking); returns how many notifications were sent."""
    since = timezone.now() - dt.timedelta(days=days)
    final = (SubmissionStatus.ACCEPTED, SubmissionStatus.PARTIALLY_ACCEPTED, SubmissionStatus.REJECTED)
    ids = Submission.objects.filter(checked_at__gte=since, status__in=final).values_list("pk", flat=True)
    return sum(notify(kind=NotificationKind.RECEIPT.value, object_id=pk) for pk in ids)
