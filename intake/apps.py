from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = _("受付・事務点検")

    def ready(self) -> None:
        # Imported here, not at module level: the notification kinds use models, which exist only once
        # the app registry is ready.
        from agency.models import Role
        from agency.navigation import register_condition

        from . import notifications

        # 通知設定 only for roles that receive a notice; the institution's own 健診データ検索 (agency staff
        # search from the workbench).
        register_condition("insurer:notification_settings", lambda user: bool(notifications.kinds_for(user)))
        register_condition("intake:record_search", lambda user: user.role == Role.INSTITUTION_STAFF)

        from agency.leases import register_reconciler  # uses models: importable once the registry is ready

        from .services.resume import submissions_resume_unleased  # the same

        # Unfinished submissions without a lease get one at each round of the work sweeper.
        register_reconciler("intake.unleased_submissions", submissions_resume_unleased)
