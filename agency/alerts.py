"""Alerts to the agency's administrators: an e-mail to every active agency admin, sent after commit.

Used where something needs a person now (background work that could not be resumed, an account
locked after repeated failed logins). The message names what happened and where to look; it carries
no personal data of examinees.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from .models import Role, User

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[代行機関ポータル] "


def staff_addresses() -> list[str]:
    users = User.objects.filter(role=Role.AGENCY_ADMIN, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def staff_alert(subject: str, body: str) -> None:
    """E-mail every active agency admin once the current transaction commits (never inside it).

    Without recipients the alert is logged as a warning; a mail server that refuses is logged too
    (the alert never makes the work that raised it fail).
    """
    logger.warning("staff alert: %s", subject)
    recipients = staff_addresses()
    if not recipients:
        logger.warning("staff alert without recipients (no active agency admin with an e-mail address): %s", subject)
        return

    def send() -> None:
        try:
            send_mail(SUBJECT_PREFIX + subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:
            logger.exception("staff alert could not be sent: %s", subject)

    transaction.on_commit(send)
