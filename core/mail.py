"""E-mail for development: Django's console backend, on standard error.

Django's own console backend writes each message to standard output, where it mixes with what
management commands print: ``intake_archive --json`` and the other ``--json`` commands promise JSON
on standard output, and the receipt notice e-mailed while an archive is checked would land in the
middle of it. This backend writes the same text to standard error. It is the default where no
``EMAIL_BACKEND`` is configured (development and the demo); production sets the SMTP backend.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend


class StderrEmailBackend(ConsoleEmailBackend):
    """Writes every message, as Django's console backend does, to standard error (or ``stream``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)
