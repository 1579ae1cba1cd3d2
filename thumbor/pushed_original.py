"""Originals pushed with the request: Thumbor never fetches them.

The Worker POSTs the original's bytes to the same signed path a GET would use
(`/<signature>/100x100/smart/…/<name>`) and gets the thumbnail back in that one
exchange. Thumbor then makes no request of its own: no call back to the Worker, no
public originals URL to sign, and the container needs no network at all.

This module is both halves of that:
- a handler list (`HANDLER_LISTS`): Thumbor's imaging handler, also answering POST;
- a loader (`LOADER`): a POST's body is the original (the path's `<name>` only names it
  in logs and the signature); a GET still loads by URL with Thumbor's HTTP loader, held
  to `ALLOWED_SOURCES`, and loads nothing when that list is empty.
"""

from thumbor.handlers.imaging import ImagingHandler
from thumbor.loaders import LoaderResult, http_loader
from thumbor.url import Url


class PushedImagingHandler(ImagingHandler):
    """Thumbor's imaging handler, unchanged for GET and HEAD, and taking POST: same checks, same signature."""

    async def post(self, **kw):
        return await self.check_image(kw)


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
    body = context.request_handler.request.body
    if not body:
        # Nothing to decode: the same 400 as any other undecodable original.
        return LoaderResult(successful=False, error=400)
    return LoaderResult(buffer=body)
