"""過誤: an insurer returns a routed record to the institution.

``insurer_return_create`` takes a routed record out of the accepted set and builds a 種別 2 archive
back to the institution whose claim carries ``insurerAdjudicationResult`` (別表10) with interactionType
5 (決済済) when the insurer had already paid the claim, 4 (未決済) otherwise (``routing.settlement``).
The corrected resubmission is linked to the returned record by intake when it is accepted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from agency.models import Role, User
from audit.services import audit_record
from core.actors import actor_label
from intake import jobs, storage
from intake.models import NotificationKind, Record, RecordKind, RecordStatus, Submission
from intake.reading import parse_claim, parse_guidance_claim, read_members
from kenshin.assemble import agency_party, institution_party, summary_for
from kenshin.claim_write import claim_xml, guidance_claim_xml, index_xml, summary_xml
from kenshin.naming import INDEX_FILE, SUMMARY_FILE, ArchiveName
from kenshin.records import AdjudicationResult, IndexRecord

from ..models import MAX_SAME_DAY_COUNT, DeliveryItem, InsurerReturn, InsurerReturnReason
from ..packing import (
    SERVICE_OF_KIND,
    DeliveryInvalid,
    agency_code,
    pack_archive,
    sending_institution,
    store_archive,
    verify_archive,
)
from ..settlement import return_interaction_type

RETURN_NOTE_MAX = 100  # reason text of insurerAdjudicationResult


def _return_same_day_count(record: Record, day: dt.date) -> int:
    """Archives sent back to one institution on one day share the name's single same-day digit."""
    institution = sending_institution(record)
    returns = InsurerReturn.objects.filter(institution=institution, archive__isnull=False, returned_at__date=day).count()
    rejections = Submission.objects.filter(institution=institution, records_returned__gt=0, checked_at__date=day).count()
    return min(returns + rejections, MAX_SAME_DAY_COUNT)


def _return_archive(record: Record, item: DeliveryItem, result: AdjudicationResult, code: str, day: dt.date) -> tuple[str, bytes]:
    """The 種別 2 archive that takes one record back to its institution, its claim carrying the 過誤 reason
    (a checkup's cc08 or a guidance part's gc08); results only and 事業者健診等 have no claim and go back as
    their DATA file (the reason is in the notice)."""
    service = SERVICE_OF_KIND[RecordKind(record.kind)]
    members = read_members(record.submission, [p for p in (record.data_path, record.claim_path) if p])
    files = {item.data_name: members[record.data_path]}
    summary = None
    if record.claim_path:
        if record.kind == RecordKind.GUIDANCE:
            guidance = parse_guidance_claim(members[record.claim_path], record.claim_path)
            if guidance is None:
                raise DeliveryInvalid(_("決済ファイルを読み取れません: %(path)s") % {"path": record.claim_path})
            guidance = replace(guidance, insurer_result=result)
            summary = summary_for([], [guidance], service_event_type=service)
            files[item.claim_name] = guidance_claim_xml(guidance)
        else:
            claim = parse_claim(members[record.claim_path], record.claim_path)
            if claim is None:
                raise DeliveryInvalid(_("決済ファイルを読み取れません: %(path)s") % {"path": record.claim_path})
            claim = replace(claim, insurer_result=result)
            summary = summary_for([claim], service_event_type=service)
            files[item.claim_name] = claim_xml(claim)
    institution = sending_institution(record).number
    name = ArchiveName(code, institution, day, _return_same_day_count(record, day), service)
    index = IndexRecord(
        interaction_type="2",
        created_on=day,
        sender=agency_party(code),
        receiver=institution_party(institution),
        service_event_type=service,
        total_record_count=len(files),
    )
    members_out = {INDEX_FILE: index_xml(index), **({SUMMARY_FILE: summary_xml(summary)} if summary is not None else {}), **files}
    data = pack_archive(name, members_out)
    verify_archive(data, name.filename)
    return name.filename, data


def insurer_return_create(
    *, record: Record, reason: str, note: str, actor: Any, request: HttpRequest | None = None
) -> InsurerReturn:
    """An insurer returns a routed record (過誤, 別表10 ``reason``) with a note of at most 100 characters.

    The record leaves the accepted set (so the corrected resubmission can be accepted), and a 種別 2
    archive whose claim carries ``insurerAdjudicationResult`` is built for the institution.
    """
    if reason not in InsurerReturnReason.values:
        raise ValidationError(_("過誤返戻理由を選択してください。"), code="reason_invalid")
    note = " ".join(note.split())
    if len(note) > RETURN_NOTE_MAX:
        raise ValidationError(_("理由の内容は100文字以内で入力してください。"), code="note_too_long")
    if reason == InsurerReturnReason.OTHER and not note:
        raise ValidationError(_("「その他」の場合は理由の内容を入力してください。"), code="note_required")
    code = agency_code()
    with transaction.atomic():
        locked = Record.objects.select_for_update(of=("self",)).select_related("submission__archive", "institution").get(pk=record.pk)
        item = DeliveryItem.objects.select_related("delivery").filter(record=locked).first()
        if item is None:
            raise ValidationError(_("送付していない健診データは過誤返戻できません。"), code="not_routed")
        if getattr(actor, "role", None) == Role.INSURER_STAFF and item.delivery.insurer_id != actor.insurer_id:
            raise PermissionDenied
        if InsurerReturn.objects.filter(record=locked).exists() or locked.status != RecordStatus.ACCEPTED:
            raise ValidationError(_("この健診データは既に過誤返戻されています。"), code="already_returned")
        now = timezone.now()
        day = timezone.localdate(now)
        interaction = return_interaction_type(locked)  # 5 when the insurer has already paid the claim, else 4
        result = AdjudicationResult(interaction, day, reason, note or None)
        file_name, data = _return_archive(locked, item, result, code, day)
        returned = InsurerReturn(
            record=locked,
            delivery=item.delivery,
            insurer_id=item.delivery.insurer_id,
            institution=sending_institution(locked),
            reason=reason,
            note=note,
            returned_at=now,
            returned_by=actor if isinstance(actor, User) else None,
            returned_label=actor_label(actor),
            archive=store_archive(data),
            archive_file_name=file_name,
        )
        returned.full_clean()
        returned.save()
        Record.objects.filter(pk=locked.pk).update(status=RecordStatus.RETURNED)
        audit_record(
            action="routing.return.created",
            actor=actor,
            request=request,
            object_type="record",
            object_ids=[locked.pk],
            detail={"return": returned.pk, "reason": reason, "delivery": item.delivery_id, "archive": file_name,
                    "interaction_type": interaction},
        )
        jobs.notify_on_commit(NotificationKind.RETURN.value, returned.pk)
    return returned


def insurer_return_archive(*, insurer_return: InsurerReturn) -> bytes:
    """The 種別 2 archive of a 過誤, for the institution (reads are audited by the caller's view)."""
    if insurer_return.archive_id is None:
        raise ValidationError(_("返送用のアーカイブがありません。"), code="no_archive")
    return storage.read(insurer_return.archive.sha256)
