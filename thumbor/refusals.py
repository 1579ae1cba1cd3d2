"""Our origin's refusals of an image, told apart from Thumbor's refusals of a request.

Thumbor answers 400 both for an image it cannot decode and for a URL whose signature does
not match its key, with an empty body either way. The Worker must not fail a user's job as
"corrupt" because the origin runs with the wrong key, so every answer about the image
itself carries the header `Edge-Refusal: <reason>`:

- `undecodable` (400): not an image, corrupt or truncated;
- `empty` (400): the request had no body;
- `too_large` (422): more pixels, or more decoded bytes, than the origin's limits;
- `too_complex` (422): a decode that would take, or took, longer than its budget;
- `busy` (503): no room in the process's decode memory within the wait (try again later);
- `crashed` (500): an error while working on this image.

An error answer without the header is about the request, not the image: a bad signature,
an unknown route, Thumbor failing before it had the image (the Worker treats those as
configuration or availability faults, and the job waits).

The header is set by the imaging handler (pushed_original.py) on any error answer once
the request got past Thumbor's URL check with an original in hand.
"""

from __future__ import annotations

from tornado.web import HTTPError

HEADER = "Edge-Refusal"

# The reason an error status means when nothing more specific was said.
DEFAULT_REASONS = {400: "undecodable", 422: "too_large", 503: "busy"}


class Refusal(HTTPError):
    """An HTTPError that says why the image is refused (`reason`, one of the above)."""

    def __init__(self, status: int, reason: str, log_message: str | None = None, *args) -> None:
        super().__init__(status, log_message, *args)
        self.reason = reason


def reason_for(status: int) -> str:
    """The reason an error `status` about an image means, if nothing more was said."""
    return DEFAULT_REASONS.get(status, "crashed")


def refuse_later(context, refusal: Refusal) -> None:
    """Records `refusal` on the request's handler, for code that cannot raise it (Thumbor
    turns an engine's exceptions into 500s): the handler answers with its status and reason."""
    handler = getattr(context, "request_handler", None)
    if handler is not None:
        handler.edge_refusal = refusal
