"""The FastAPI application: shared context, security headers, templates, and the page routers.

Security model (documents are untrusted web content):
- every template is auto-escaped, charts escape their labels, and a strict Content-Security-Policy
  (scripts only from /static, no inline script, no plugins) stops a missed escape from executing;
- requests name runs and stages by key; file paths come only from listings of the configured folders;
- the server binds 127.0.0.1 unless told otherwise; writing labels then needs the token when it is bound
  elsewhere, and every write needs a task id the server handed out (which also defeats CSRF);
- when bound to loopback only loopback Host headers are accepted (no DNS rebinding).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from curation.ui.context import UI
from curation.ui.runs import allowed_roots, discover

log = logging.getLogger("curation.ui")
HERE = Path(__file__).parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'")
def create_app(dirs: list[str], token: str | None = None, loopback_only: bool = False,
               data_roots: list[str] | None = None) -> FastAPI:
    """The app over the run folders in `dirs` (each a run folder or a folder of run folders)."""
    runs = discover(dirs)
    ui = UI(runs=runs, roots=allowed_roots(runs, data_roots), token=token or None)
    app = FastAPI(title="curation data-quality UI", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ui = ui

    @app.middleware("http")
    async def security(request: Request, call_next: Any) -> Any:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
        if loopback_only and host not in LOOPBACK:
            return PlainTextResponse("host not allowed", status_code=421)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        return ui.page(request, "error.html", status_code=exc.status_code, status=exc.status_code,
                       message=str(exc.detail))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> HTMLResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return ui.page(request, "error.html", status_code=500, status=500,
                       message=f"this page failed: {type(exc).__name__}: {exc}")

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from curation.ui.views import distributions, drops, duplicates, pdfs, rewrites, runs_page, whatif

    for module in (runs_page, drops, distributions, duplicates, pdfs, whatif, rewrites):
        app.include_router(module.router(ui))
    return app


def new_token() -> str:
    return secrets.token_urlsafe(24)
