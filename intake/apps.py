from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = _("受付・事務点検")

    def ready(self) -> None:
        from agency.leases import register_reconciler  # uses models: importable once the registry is ready

        from .services.resume import submissions_resume_unleased  # the same

        register_reconciler("intake.unleased_submissions", submissions_resume_unleased)
