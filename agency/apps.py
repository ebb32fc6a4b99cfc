from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from .celery import app as celery_app
from .checks import deployment_checks


class AgencyConfig(AppConfig):
    name = "agency"
    verbose_name = _("代行機関・関係機関・利用者")

    def ready(self) -> None:
        # Every app's tasks module is imported now, in web processes as in workers, so that a task
        # enqueued by name (``intake.pipeline``) is known where it runs eagerly.
        celery_app.autodiscover_tasks(force=True)
        checks.register(deployment_checks, checks.Tags.security, deploy=True)
        # Imported here, not at module level: both use models, importable only once the apps are ready
        # (lockout connects its alert; otp_storage patches django-otp's models).
        from . import lockout, otp_storage  # noqa: F401


        otp_storage.install()
