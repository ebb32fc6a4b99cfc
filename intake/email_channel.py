"""The e-mail channel: archives attached to messages from an institution's registered addresses.

The sender is taken from the message's From address, which the receiving MTA must have
authenticated (SPF/DKIM/DMARC); a message from an address that is not registered for an
institution is refused and the refusal audited. Only ZIP attachments are taken; anything else is
refused with its reason. Every message is handled on its own: one bad message never stops the rest.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from agency.models import InstitutionEmailSender
from audit.models import Outcome
from audit.services import audit_record

from .models import Channel
from .services.receive import ReceiveResult, submission_receive


@dataclass
class MessageOutcome:
    message_id: str
    sender: str
    institution: str = ""
    refused: str = ""
    received: list[ReceiveResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _is_zip(part: EmailMessage, payload: bytes) -> bool:
    name = (part.get_filename() or "").lower()
    return name.endswith(".zip") and payload[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def message_intake(raw: bytes, *, enqueue: bool = True) -> MessageOutcome:
    message: Any = email.message_from_bytes(raw, policy=email.policy.default)
    message_id = str(message.get("Message-ID", ""))[:200]
    addresses = [address.lower() for _, address in getaddresses([str(message.get("From", ""))]) if address]
    sender = addresses[0] if len(addresses) == 1 else ""
    outcome = MessageOutcome(message_id=message_id, sender=sender)
    registration = (
        InstitutionEmailSender.objects.select_related("institution")
        .filter(address=sender, institution__is_active=True)
        .first()
        if sender
        else None
    )
    if registration is None:
        outcome.refused = "unregistered_sender" if sender else "no_single_sender"
        audit_record(
            action="intake.email_refused", outcome=Outcome.DENIED, actor_label=sender or "(unknown)",
            detail={"reason": outcome.refused, "message_id": message_id},
        )
        return outcome
    institution = registration.institution
    outcome.institution = institution.number
    for part in message.iter_attachments():
        name = part.get_filename() or ""
        payload = part.get_payload(decode=True) or b""
        if not _is_zip(part, payload):
            outcome.skipped.append(name or part.get_content_type())
            audit_record(
                action="intake.email_attachment_refused", outcome=Outcome.DENIED, actor_label=sender,
                detail={"reason": "not_a_zip_archive", "file_name": name[:255], "message_id": message_id},
            )
            continue
        outcome.received.append(
            submission_receive(
                source=payload, file_name=name, institution=institution, channel=Channel.EMAIL, actor_label=sender,
                enqueue=enqueue,
            )
        )
    if not outcome.received and not outcome.skipped:
        outcome.refused = "no_attachment"
        audit_record(
            action="intake.email_refused", outcome=Outcome.DENIED, actor_label=sender,
            detail={"reason": outcome.refused, "message_id": message_id},
        )
    return outcome
