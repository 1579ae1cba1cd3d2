"""A logging filter that keeps URL signatures out of Thumbor's logs.

Thumbor and Tornado log the request path on every 4xx/5xx, and the path holds
two secrets' worth of signatures: Thumbor's own HMAC (the first path segment)
and the `sig` of the Worker's signed /originals URL inside it. Either one, read
from a log, lets someone replay the request until it expires (Thumbor's never
does). Installed on the log handler by THUMBOR_LOG_CONFIG in thumbor.conf.
"""

from __future__ import annotations

import logging
import re

# Thumbor's signature: 27 URL-safe base64 characters and '=' (a padded SHA-1), a whole path segment.
_THUMBOR_SIGNATURE = re.compile(r"/[A-Za-z0-9_-]{27}=(?=/)")
# The originals URL's signature, plain or percent-encoded as Thumbor sees it.
_ORIGINALS_SIGNATURE = re.compile(r"(sig(?:=|%3[Dd]))[A-Za-z0-9_%-]+")


def redact(text: str) -> str:
    text = _THUMBOR_SIGNATURE.sub("/<signature>", text)
    return _ORIGINALS_SIGNATURE.sub(r"\1<redacted>", text)


class RedactSignatures(logging.Filter):
    """Rewrites each record's message (and traceback) with signatures redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
