"""The e-mail channel: archives attached to messages from an institution's registered addresses.

The sender is taken from the message's From address, which the receiving MTA must have
authenticated (SPF/DKIM/DMARC); a message from an address that is not registered for an
institution is refused and the refusal audited. Every attachment is handled on its own: a ZIP
archive within ``INTAKE_MAX_ARCHIVE_BYTES`` is received (``submission_receive``), anything else is
refused with its reason — not a ZIP archive, too large, already received from another institution —
while the other attachments of the message are received. A message larger than
``INTAKE_EMAIL_MAX_MESSAGE_BYTES`` is refused whole, from its header alone.

Every refusal is audited, and a registered sender is answered by e-mail with what was received
(受領番号) and what was refused and why (an unregistered sender is never answered: the address may
be forged). Moving refused messages to the quarantine folder is the command's part
(``manage.py intake_email``), as is reading the mailbox.
"""

from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage as OutgoingMessage
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agency.models import Institution, InstitutionEmailSender
from audit.models import Outcome
from audit.services import audit_record

from .models import Channel
from .services.receive import ReceiveRefused, ReceiveResult, submission_receive

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[代行機関ポータル] "

MESSAGE_REASONS = {
    "unregistered_sender": gettext_lazy("送信元アドレスが健診機関の登録アドレスではありません。"),
    "no_single_sender": gettext_lazy("送信元アドレスが1つではありません。"),
    "no_attachment": gettext_lazy("ZIP形式のアーカイブが添付されていません。"),
    "message_too_large": gettext_lazy("メールが大きすぎます（上限 {limit:,} バイト）。"),
}


@dataclass(frozen=True)
class AttachmentRefusal:
    file_name: str
    code: str
    message: str


@dataclass
class MessageOutcome:
    message_id: str
    sender: str
    subject: str = ""
    institution: str = ""
    refused: str = ""  # the message as a whole: a code of MESSAGE_REASONS
    refused_message: str = ""
    received: list[ReceiveResult] = field(default_factory=list)
    refusals: list[AttachmentRefusal] = field(default_factory=list)
    answered: bool = False

    @property
    def skipped(self) -> list[str]:
        return [refusal.file_name for refusal in self.refusals]

    @property
    def has_refusals(self) -> bool:
        return bool(self.refused or self.refusals)

    def reasons(self) -> dict[str, Any]:
        """What was refused and why, for the quarantine folder and the command's report."""
        return {
            "message_id": self.message_id,
            "sender": self.sender,
            "subject": self.subject,
            "institution": self.institution,
            "refused": self.refused,
            "refused_message": self.refused_message,
            "attachments": [
                {"file_name": r.file_name, "code": r.code, "message": r.message} for r in self.refusals
            ],
            "received": [
                {"file_name": r.submission.file_name, "receipt_number": r.submission.receipt_number, "duplicate": r.duplicate}
                for r in self.received
            ],
            "answered": self.answered,
        }


def _is_zip(part: EmailMessage, payload: bytes) -> bool:
    name = (part.get_filename() or "").lower()
    return name.endswith(".zip") and payload[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _headers(message: Any) -> tuple[str, str, str]:
    """(Message-ID, the single sender's address or "", subject)."""
    message_id = str(message.get("Message-ID", ""))[:200]
    addresses = [address.lower() for _name, address in getaddresses([str(message.get("From", ""))]) if address]
    sender = addresses[0] if len(addresses) == 1 else ""
    return message_id, sender, str(message.get("Subject", ""))[:200]


def _registered(sender: str) -> Institution | None:
    if not sender:
        return None
    registration = (
        InstitutionEmailSender.objects.select_related("institution")
        .filter(address=sender, institution__is_active=True)
        .first()
    )
    return registration.institution if registration is not None else None


def _refuse_message(outcome: MessageOutcome, code: str, **values: Any) -> None:
    outcome.refused = code
    outcome.refused_message = str(MESSAGE_REASONS[code]).format(**values)
    audit_record(
        action="intake.email_refused", outcome=Outcome.DENIED, actor_label=outcome.sender or "(unknown)",
        detail={"reason": code, "message_id": outcome.message_id, **values},
    )


def _refuse_attachment(outcome: MessageOutcome, name: str, code: str, message: str) -> None:
    outcome.refusals.append(AttachmentRefusal(name, code, message))
    audit_record(
        action="intake.email_attachment_refused", outcome=Outcome.DENIED, actor_label=outcome.sender,
        detail={"reason": code, "file_name": name[:255], "message_id": outcome.message_id},
    )


def message_intake(raw: bytes, *, enqueue: bool = True) -> MessageOutcome:
    """Receive every acceptable attachment of one message and refuse the rest, each on its own; a
    registered sender is answered when something was refused."""
    message: Any = email.message_from_bytes(raw, policy=email.policy.default)
    outcome = MessageOutcome(*_headers(message))
    institution = _registered(outcome.sender)
    if institution is None:
        _refuse_message(outcome, "unregistered_sender" if outcome.sender else "no_single_sender")
        return outcome
    outcome.institution = institution.number
    limit = settings.INTAKE_MAX_ARCHIVE_BYTES
    for part in message.iter_attachments():
        name = part.get_filename() or ""
        payload = part.get_payload(decode=True) or b""
        if not _is_zip(part, payload):
            _refuse_attachment(outcome, name or part.get_content_type(), "not_a_zip_archive", _("ZIP形式のアーカイブではありません。"))
            continue
        if len(payload) > limit:
            _refuse_attachment(outcome, name, "ARC_TOO_LARGE", _("アーカイブが上限（%(limit)s バイト）を超えています。") % {"limit": f"{limit:,}"})
            continue
        try:
            outcome.received.append(
                submission_receive(
                    source=payload, file_name=name, institution=institution, channel=Channel.EMAIL,
                    actor_label=outcome.sender, enqueue=enqueue,
                )
            )
        except ReceiveRefused as refused:  # audited by submission_receive as well
            _refuse_attachment(outcome, name, refused.code, str(refused))
    if not outcome.received and not outcome.refusals:
        _refuse_message(outcome, "no_attachment")
    if outcome.has_refusals:
        answer(outcome)
    return outcome


def message_too_large(head: bytes, size: int) -> MessageOutcome:
    """Refuse a message larger than ``INTAKE_EMAIL_MAX_MESSAGE_BYTES`` from its header alone
    (``head``: its first bytes); a registered sender is answered."""
    header_block = head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    message: Any = email.message_from_bytes(header_block + b"\n\n", policy=email.policy.default)
    outcome = MessageOutcome(*_headers(message))
    institution = _registered(outcome.sender)
    if institution is not None:
        outcome.institution = institution.number
    _refuse_message(outcome, "message_too_large", limit=settings.INTAKE_EMAIL_MAX_MESSAGE_BYTES, size=size)
    if institution is not None:
        answer(outcome)
    return outcome


def _answer_body(outcome: MessageOutcome) -> str:
    lines = [
        _("代行機関ポータルです。お送りいただいたメールを処理しました。"),
        "",
        _("件名: %(subject)s") % {"subject": outcome.subject or "-"},
        _("Message-ID: %(id)s") % {"id": outcome.message_id or "-"},
        "",
    ]
    if outcome.refused:
        lines += [_("このメールは受け付けられませんでした。"), _("理由: %(reason)s") % {"reason": outcome.refused_message}, ""]
    if outcome.refusals:
        lines.append(_("受け付けられなかった添付ファイル:"))
        lines += [f"  - {r.file_name}: {r.message}（{r.code}）" for r in outcome.refusals]
        lines.append("")
    if outcome.received:
        lines.append(_("受け付けた添付ファイル:"))
        lines += [
            f"  - {r.submission.file_name}: " + _("受領番号 %(number)s") % {"number": r.submission.receipt_number}
            + (_("（受付済みのものと同じ内容です）") if r.duplicate else "")
            for r in outcome.received
        ]
        lines.append("")
    lines += [
        _("受け付けられなかったものは、理由を確認のうえ修正して再送してください。"),
        _("このメールは送信専用のアドレスから自動で送信しています。"),
    ]
    return "\n".join(lines)


def answer(outcome: MessageOutcome) -> None:
    """E-mail the registered sender what was received and what was refused, and why (audited). A mail
    server that refuses is logged; the refusal itself stands (and the message is quarantined)."""
    subject = outcome.subject or _("特定健診データ")
    reply = OutgoingMessage(
        subject=SUBJECT_PREFIX + _("受付できなかったものがあります: %(subject)s") % {"subject": subject},
        body=_answer_body(outcome),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[outcome.sender],
        headers={
            "Message-ID": make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or None),
            **({"In-Reply-To": outcome.message_id, "References": outcome.message_id} if outcome.message_id else {}),
            "Auto-Submitted": "auto-replied",
        },
    )
    try:
        reply.send()
    except Exception:
        logger.exception("the answer to %s (%s) could not be sent", outcome.sender, outcome.message_id)
        return
    outcome.answered = True
    audit_record(
        action="intake.email_answered", actor_label="system", object_type="submission",
        object_ids=[r.submission.pk for r in outcome.received],
        detail={
            "to": outcome.sender, "message_id": outcome.message_id, "refused": outcome.refused,
            "attachments_refused": [r.code for r in outcome.refusals],
        },
    )
