"""Routing's steps in record and submission timelines (registered by ``RoutingConfig.ready``), and the
timeline of a delivery."""

from __future__ import annotations

from django.db.models import Count, Max, Min
from django.utils.translation import gettext as _

from intake.models import Record, Submission
from intake.timeline import TimelineStep

from .models import Delivery, DeliveryChannel, DeliveryDownload, DeliveryItem, InsurerReturn


def record_steps(record: Record) -> list[TimelineStep]:
    """routed → downloaded by the insurer → (returned by the insurer)."""
    item = DeliveryItem.objects.select_related("delivery").filter(record_id=record.pk).first()
    delivery = item.delivery if item else None
    steps = [TimelineStep("routed", _("振分"), delivery.created_at if delivery else None,
                          delivery.file_name if delivery else "", done=delivery is not None)]
    first = delivery.downloads.exclude(channel=DeliveryChannel.MEDIA).first() if delivery else None
    steps.append(TimelineStep("downloaded", _("保険者の取得"), first.downloaded_at if first else None,
                              first.actor_label if first else "", done=first is not None))
    insurer_return = InsurerReturn.objects.filter(record_id=record.pk).first()
    if insurer_return is not None:
        steps.append(TimelineStep("returned", _("過誤返戻"), insurer_return.returned_at,
                                  insurer_return.get_reason_display(), done=True, warning=True))
    return steps


def submission_steps(submission: Submission) -> list[TimelineStep]:
    """routed (how many of the accepted) → downloaded → returns by insurers.

    Aggregates over the submission's own records (count, latest, earliest): an ``ORDER BY … LIMIT 1`` over the
    deliveries lets PostgreSQL walk every delivery's items newest first when few or none are the submission's."""
    items = DeliveryItem.objects.filter(record__submission=submission)
    routing = items.aggregate(routed=Count("pk"), last=Max("delivery__created_at"))
    routed, accepted = routing["routed"], submission.records_accepted
    steps = [TimelineStep("routed", _("振分"), routing["last"],
                          _("%(routed)d／%(accepted)d件") % {"routed": routed, "accepted": accepted},
                          done=bool(routed) and routed >= accepted)]
    downloaded_at = (
        DeliveryDownload.objects.filter(delivery_id__in=items.values("delivery_id"))
        .exclude(channel=DeliveryChannel.MEDIA).aggregate(first=Min("downloaded_at"))["first"]
    )
    steps.append(TimelineStep("downloaded", _("保険者の取得"), downloaded_at, done=downloaded_at is not None))
    returns = InsurerReturn.objects.filter(record__submission=submission).aggregate(count=Count("pk"), latest=Max("returned_at"))
    if returns["count"]:
        steps.append(TimelineStep("returned", _("過誤返戻"), returns["latest"],
                                  _("%(count)d件") % {"count": returns["count"]}, done=True, warning=True))
    return steps


def delivery_timeline(delivery: Delivery) -> list[TimelineStep]:
    """created → (media prepared → shipped) → downloaded (each time) → acknowledged → returns."""
    steps = [TimelineStep("created", _("作成"), delivery.created_at, delivery.file_name, done=True)]
    if delivery.media_prepared_at:
        steps.append(TimelineStep("media", _("媒体作成（パスワード付き）"), delivery.media_prepared_at, done=True))
    if delivery.media_shipped_at:
        steps.append(TimelineStep("shipped", _("発送"), delivery.media_shipped_at, delivery.media_tracking_number, done=True))
    downloads = list(delivery.downloads.all())
    for download in downloads:
        steps.append(TimelineStep("downloaded", _("取得（%(channel)s）") % {"channel": download.get_channel_display()},
                                  download.downloaded_at, download.actor_label, done=True))
    if not downloads:
        steps.append(TimelineStep("downloaded", _("取得")))
    steps.append(TimelineStep("acknowledged", _("受領確認"), delivery.acknowledged_at, delivery.acknowledged_label,
                              done=delivery.acknowledged_at is not None))
    for insurer_return in delivery.returns.all():
        steps.append(TimelineStep("returned", _("過誤返戻"), insurer_return.returned_at, insurer_return.get_reason_display(),
                                  done=True, warning=True))
    return steps
