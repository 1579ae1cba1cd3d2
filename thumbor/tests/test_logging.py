"""The log filters of thumbor.conf (redact.py): no URL signature in a log line, no noise."""

import logging

from redact import DropNoise, RedactSignatures, redact

SIGNED = "/uKlyaVg4iVjCyw4QJRjI8JXh4sI=/100x100/smart/filters:format(webp):quality(80)/01kb"


def record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("tornado.access", logging.WARNING, __file__, 1, message, args, None)


def test_redact_blanks_a_signature_and_nothing_else():
    assert (
        redact(f"400 POST {SIGNED} (127.0.0.1)")
        == "400 POST /<signature>/100x100/smart/filters:format(webp):quality(80)/01kb (127.0.0.1)"
    )
    assert redact("GET /healthcheck") == "GET /healthcheck"


def test_redact_signatures_rewrites_the_formatted_message():
    rec = record("%d POST %s", 400, SIGNED)
    assert RedactSignatures().filter(rec) and rec.getMessage().startswith("400 POST /<signature>/100x100")


def test_drop_noise_drops_the_pycurl_advice_only():
    assert not DropNoise().filter(record("pycurl usage is advised. It could not be loaded properly. Verify install..."))
    assert DropNoise().filter(record("refused unopened: 8000x8000 is over 50000000 pixels"))
