from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = _("振分・保険者ポータル")

    def ready(self) -> None:
        # Imported here, not at module level: these modules use models, which exist only once the
        # app registry is ready.
        from intake import notifications, timeline

        from . import notices
        from . import timeline as routing_timeline

        timeline.register_record_steps("routing", routing_timeline.record_steps, order=10)
        timeline.register_submission_steps("routing", routing_timeline.submission_steps, order=10)
        notifications.register(notices.DELIVERY)
        notifications.register(notices.RETURN)
