from __future__ import annotations

import logging
import re

_SECRET_RE = re.compile(r"(?i)(password|passwd|otp_token|token|secret)(['\"]?\s*[:=]\s*['\"]?)([^'\"\s,&}]+)")


class RedactSecretsFilter(logging.Filter):
    """Mask anything that looks like a credential in a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_RE.sub(r"\1\2***", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True
