from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("安全管理")

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the login receiver
