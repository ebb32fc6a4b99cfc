from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from .celery import app as celery_app


class AgencyConfig(AppConfig):
    name = "agency"
    verbose_name = _("代行機関・関係機関・利用者")

    def ready(self) -> None:
        # Every app's tasks module is imported now, in web processes as in workers, so that a task
        # enqueued by name (``intake.pipeline``) is known where it runs eagerly.
        celery_app.autodiscover_tasks(force=True)
        from . import otp_storage  # django-otp's models are ready only now

        otp_storage.install()
