"""Originals pushed with the request (pushed_original.py): a POST's body is the original, a GET
loads by URL only from ALLOWED_SOURCES, and an empty list means no host at all."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pushed_original
import refusals


def context(method: str, body: bytes = b"", allowed: list[str] | None = None):
    handler = SimpleNamespace(request=SimpleNamespace(method=method, body=body), image_received=False, edge_refusal=None)
    return SimpleNamespace(request_handler=handler, config=SimpleNamespace(ALLOWED_SOURCES=allowed or []))


def test_a_post_s_body_is_the_original_and_marks_the_answer_as_about_the_image():
    ctx = context("POST", b"\x89PNG...")
    assert pushed_original.validate(ctx, "any-name")
    result = asyncio.run(pushed_original.load(ctx, "any-name"))
    assert result.successful and result.buffer == b"\x89PNG..."
    assert ctx.request_handler.image_received


def test_an_empty_post_is_refused_as_empty():
    ctx = context("POST", b"")
    result = asyncio.run(pushed_original.load(ctx, "any-name"))
    assert not result.successful and result.error == 400
    assert isinstance(ctx.request_handler.edge_refusal, refusals.Refusal)
    assert ctx.request_handler.edge_refusal.reason == "empty"


def test_a_get_loads_nothing_by_url_when_no_source_is_allowed():
    # Thumbor's own HTTP loader reads an empty ALLOWED_SOURCES as "any host"; ours as none.
    assert not pushed_original.validate(context("GET"), "http://169.254.169.254/latest/meta-data")
    assert not pushed_original.validate(context("GET", allowed=[]), "http://example.com/x.jpg")


def test_reasons_for_bare_statuses():
    assert refusals.reason_for(400) == "undecodable"
    assert refusals.reason_for(422) == "too_large"
    assert refusals.reason_for(503) == "busy"
    assert refusals.reason_for(500) == "crashed"


def test_the_access_line_carries_the_trace_id_of_a_valid_traceparent():
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert pushed_original.trace_id_of(parent) == "4bf92f3577b34da6a3ce929d0e0e4736"
    line = pushed_original.access_line("POST", "/sig/100x100/smart/job", 200, 12.34, 5120, parent)
    assert line == "POST /sig/100x100/smart/job 200 12.3ms in=5120 trace=4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_missing_or_malformed_traceparent_gives_no_trace_id():
    for header in (None, "", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4BF92F-x-01"):
        assert pushed_original.trace_id_of(header) is None
    assert pushed_original.access_line("GET", "/x", 404, 1, 0, None).endswith("trace=-")
