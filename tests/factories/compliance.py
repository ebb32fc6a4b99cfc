"""Factories for compliance records that tests need as they would stand after the fact."""

from __future__ import annotations

import factory
from django.utils import timezone

from compliance.models import AccessReview

from .agency import MaintenanceWindowFactory


class AccessReviewFactory(factory.django.DjangoModelFactory):
    """The open review of a maintenance window's actions, covering the window up to now."""

    class Meta:
        model = AccessReview

    kind = AccessReview.Kind.MAINTENANCE
    window = factory.SubFactory(MaintenanceWindowFactory)
    subject_ids = factory.LazyAttribute(lambda r: [r.window.user_id])
    period_start = factory.LazyAttribute(lambda r: r.window.starts_at)
    opened_at = factory.LazyFunction(timezone.now)
    period_end = factory.SelfAttribute("opened_at")
