from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("請求・支払")

    def ready(self) -> None:
        # Imported here, not at module level: these modules use models, which exist only once the
        # app registry is ready.
        from intake import timeline
        from routing import settlement

        from . import selectors
        from . import timeline as billing_timeline

        timeline.register_record_steps("billing", billing_timeline.record_steps, order=20)
        timeline.register_submission_steps("billing", billing_timeline.submission_steps, order=20)
        settlement.register_claim_paid(selectors.record_claim_paid)
