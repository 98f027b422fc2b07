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

import hmac
import logging
import math
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from curation.ui import charts
from curation.ui.pdf import TaskStore
from curation.ui.runs import Run, allowed_roots, discover

log = logging.getLogger("curation.ui")
HERE = Path(__file__).parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'")
PAGE_SIZE = 25


class NotFound(StarletteHTTPException):
    def __init__(self, what: str):
        super().__init__(status_code=404, detail=what)


@dataclass
class UI:
    """What every page needs: the runs, where source files may be read from, the A/B tasks, the token."""

    runs: dict[str, Run]
    roots: list[Path]
    token: str | None = None
    tasks: TaskStore = field(default_factory=TaskStore)
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                               autoescape=select_autoescape(["html"], default=True))
        self.env.filters["fmt"] = charts.fmt
        self.env.filters["num"] = _num
        self.env.globals["qs"] = _qs

    def run(self, key: str) -> Run:
        run = self.runs.get(key)
        if run is None:
            raise NotFound(f"no run named {key!r}")
        return run

    def page(self, request: Request, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("runs", self.runs)
        html = self.env.get_template(template).render(request=request, **ctx)
        return HTMLResponse(html, status_code=status_code)

    def token_ok(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _qs(base: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**base, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else ""


def page_number(page: Any) -> int:
    try:
        return max(1, min(int(page), 1_000_000))
    except (TypeError, ValueError):
        return 1


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
