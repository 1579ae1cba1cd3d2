"""Originals pushed with the request: Thumbor never fetches them.

The Worker POSTs the original's bytes to the same signed path a GET would use
(`/<signature>/100x100/smart/…/<name>`) and gets the thumbnail back in that one
exchange. Thumbor then makes no request of its own: no call back to the Worker, no
public originals URL to sign, and the container needs no network at all.

This module is both halves of that:
- a handler list (`HANDLER_LISTS`): Thumbor's imaging handler, also answering POST, and
  marking every error answer about the image itself (refusals.py) so that it cannot be
  taken for a refusal of the request (a bad signature);
- a loader (`LOADER`): a POST's body is the original (the path's `<name>` only names it
  in logs and the signature); a GET still loads by URL with Thumbor's HTTP loader, held
  to `ALLOWED_SOURCES`, and loads nothing when that list is empty.
"""

import logging
import re

import refusals
from thumbor.handlers.imaging import ImagingHandler
from thumbor.loaders import LoaderResult, http_loader
from thumbor.url import Url

# One line per imaging request, whatever THUMBOR_LOG_LEVEL says (thumbor.conf gives this logger its own level).
access_log = logging.getLogger("edge.access")

# W3C trace context: version-traceid-parentid-flags, lowercase hex; an all-zero trace id is invalid.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id a `traceparent` header carries (the job's upload's), or None when it carries none."""
    match = _TRACEPARENT.match((traceparent or "").strip())
    if not match or set(match.group(1)) == {"0"}:
        return None
    return match.group(1)


def access_line(method: str, path: str, status: int, ms: float, body_bytes: int, traceparent: str | None) -> str:
    """What the access log says of one request: the path's signature is blanked by the log filter (redact.py)."""
    return f"{method} {path} {status} {ms:.1f}ms in={body_bytes} trace={trace_id_of(traceparent) or '-'}"


class PushedImagingHandler(ImagingHandler):
    """Thumbor's imaging handler, unchanged for GET and HEAD, and taking POST: same checks, same signature."""

    # Set by the loader once the URL check passed and the original is in hand: from then on,
    # an error answer is about the image.
    image_received = False
    # A refusal recorded where it could not be raised (refusals.refuse_later).
    edge_refusal: refusals.Refusal | None = None

    async def post(self, **kw):
        return await self.check_image(kw)

    def _error(self, status, msg=None):
        if self.edge_refusal is not None:
            status = self.edge_refusal.status_code
        super()._error(status, msg)

    def send_error(self, status_code=500, **kwargs):
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, refusals.Refusal):
            self.edge_refusal = error
        super().send_error(status_code, **kwargs)

    def on_finish(self):
        request = self.request
        access_log.info(
            access_line(
                request.method,
                request.path,
                self.get_status(),
                request.request_time() * 1000,
                len(request.body or b""),
                request.headers.get("traceparent"),
            )
        )
        super().on_finish()

    def finish(self, chunk=None):
        status = self.get_status()
        if status >= 400 and (self.image_received or self.edge_refusal is not None):
            reason = self.edge_refusal.reason if self.edge_refusal is not None else refusals.reason_for(status)
            self.set_header(refusals.HEADER, reason)
        return super().finish(chunk)


def get_handlers(context):
    # Listed before Thumbor's own imaging route, which it then shadows for every method.
    return [(Url.regex(), PushedImagingHandler, {"context": context})]


def _pushed(context):
    handler = context.request_handler
    return handler is not None and handler.request.method == "POST"


def validate(context, url):
    if _pushed(context):
        return True
    # Thumbor's HTTP loader reads an empty ALLOWED_SOURCES as "any host"; here it means none.
    return bool(context.config.ALLOWED_SOURCES) and http_loader.validate(context, url)


async def load(context, url):
    if not _pushed(context):
        return await http_loader.load(context, url)
    handler = context.request_handler
    # Thumbor loads only after the URL and its signature checked out.
    handler.image_received = True
    body = handler.request.body
    if not body:
        refusals.refuse_later(context, refusals.Refusal(400, "empty", "the request has no body"))
        return LoaderResult(successful=False, error=400)
    return LoaderResult(buffer=body)
