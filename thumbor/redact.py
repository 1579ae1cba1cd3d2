"""Logging filters for Thumbor's logs, installed on the log handler by THUMBOR_LOG_CONFIG
in thumbor.conf.

- RedactSignatures keeps URL signatures out. Thumbor and Tornado log the request path on
  every 4xx/5xx, and the path begins with Thumbor's HMAC signature of the rest. Read from
  a log, it lets someone replay the request for ever (a signed path never expires).
- DropNoise drops warnings that say nothing about this origin: Thumbor's advice to install
  pycurl is for its HTTP loader, which fetches nothing here (originals are pushed).
"""

from __future__ import annotations

import logging
import re

# Thumbor's signature: 27 URL-safe base64 characters and '=' (a padded SHA-1), a whole path segment.
_THUMBOR_SIGNATURE = re.compile(r"/[A-Za-z0-9_-]{27}=(?=/)")


def redact(text: str) -> str:
    return _THUMBOR_SIGNATURE.sub("/<signature>", text)


class RedactSignatures(logging.Filter):
    """Rewrites each record's message (and traceback) with signatures redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


# Messages (their start) that are not worth a line in this origin's log.
_NOISE = ("pycurl usage is advised",)


class DropNoise(logging.Filter):
    """Drops the records whose message starts with one of _NOISE."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_NOISE)
