"""The notifications routing sends: a new delivery (to the insurer's users) and an insurer's 過誤 (to
the institution's users). Registered with ``intake.notifications`` by ``RoutingConfig.ready``."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from intake.models import NotificationKind
from intake.notifications import Message, Notice, link

from .models import Delivery, InsurerReturn


def _delivery_message(delivery_id: int) -> Message | None:
    delivery = Delivery.objects.select_related("insurer").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    subject = _("新しい送付データがあります（%(file)s）") % {"file": delivery.file_name}
    body = _(
        "%(insurer)s 御中\n\n代行機関から新しい送付データ（特定健診情報）を作成しました。\n\n"
        "ファイル名: %(file)s\n件数: %(records)d件\n請求金額総計: %(amount)s円\n\n"
        "ポータルの「送付データ」から取得してください: %(link)s\n"
    ) % {
        "insurer": delivery.insurer.name,
        "file": delivery.file_name,
        "records": delivery.record_count,
        "amount": f"{delivery.claim_total:,}",
        "link": link(reverse("insurer:delivery_detail", args=[delivery.pk])),
    }
    return Message(subject, body, insurer_id=delivery.insurer_id)


def _return_message(return_id: int) -> Message | None:
    insurer_return = (
        InsurerReturn.objects.select_related("record__submission", "insurer", "institution").filter(pk=return_id).first()
    )
    if insurer_return is None:
        return None
    record = insurer_return.record
    subject = _("保険者から過誤返戻がありました（受領番号 %(receipt)s）") % {"receipt": record.submission.receipt_number}
    body = _(
        "%(institution)s 御中\n\n保険者 %(insurer)s から、送付済みの健診データ1件が過誤返戻されました。\n\n"
        "受領番号: %(receipt)s（%(position)d件目）\n過誤返戻理由: %(reason)s\n\n"
        "内容を確認し、訂正したデータを再提出してください。返送ファイルはポータルの「過誤返戻」から取得できます: %(link)s\n"
    ) % {
        "institution": insurer_return.institution.name,
        "insurer": insurer_return.insurer.name,
        "receipt": record.submission.receipt_number,
        "position": record.position,
        "reason": insurer_return.get_reason_display(),
        "link": link(reverse("insurer:return_list")),
    }
    return Message(subject, body, institution_id=insurer_return.institution_id)


DELIVERY = Notice(NotificationKind.DELIVERY.value, _delivery_message)
RETURN = Notice(NotificationKind.RETURN.value, _return_message)
