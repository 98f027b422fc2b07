"""The FastAPI application: shared context, the request guard, templates, and the page routers.

Security model (documents and PDFs are untrusted web content; whoever can reach the port is untrusted
until they show the token):
- binding: 127.0.0.1 unless told otherwise. Bound beyond loopback (anything but 127.0.0.1, localhost, ::1)
  or with --require-token, the server is *public*: every request (pages, static files, JSON) needs the
  token, as `Authorization: Bearer`, `X-Curation-Token`, or the HttpOnly SameSite=Strict cookie that one
  visit to `/?token=T` sets before redirecting to the address without it. There is no default token: the
  CLI generates a random one and prints it when a public server is given none, and refuses one shorter
  than 16 characters. On loopback reading needs no token; writing a label needs the token when one is set,
  and always a task id the server handed out (which also defeats CSRF);
- Host check always on (DNS rebinding): loopback names, the bound address and the operator's
  --allowed-host names; anything else gets 421, token or not. A non-GET/HEAD request with an Origin
  header must come from the server's own origin (host and port) or an --allowed-host name (403 otherwise);
- request bodies are capped while streaming: 413 on a large Content-Length before a byte is read, and as
  soon as a streamed (chunked) body passes the cap (security.py);
- PDFs are counted, parsed and rendered only in a child process with memory, CPU and wall-clock limits,
  answering plain bytes, never pickles (sandbox.py); a failure is a message on the page;
- every template is auto-escaped, charts escape their labels, and a strict Content-Security-Policy
  (scripts only from /static, no inline script, no plugins) stops a missed escape from executing;
- requests name runs and stages by key; file paths come only from listings of the configured folders.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from curation.ui.context import UI
from curation.ui.runs import allowed_roots, discover
from curation.ui.sandbox import Limits
from curation.ui.security import MAX_BODY, Guard, Policy

log = logging.getLogger("curation.ui")
HERE = Path(__file__).parent


def create_app(dirs: list[str], token: str | None = None, data_roots: list[str] | None = None, *,
               host: str = "127.0.0.1", public: bool | None = None, allowed_hosts: Iterable[str] = (),
               max_body: int = MAX_BODY, pdf_limits: Limits | None = None) -> FastAPI:
    """The app over the run folders in `dirs` (each a run folder or a folder of run folders).

    `host` is the address the server binds: it decides the allowed Host names and, unless `public` says
    otherwise, whether every request needs `token` (see the module docstring). ValueError when a public
    app has no token or the token is shorter than 16 characters.
    """
    policy = Policy.make(host, token, public=public, allowed_hosts=allowed_hosts, max_body=max_body)
    runs = discover(dirs)
    ui = UI(runs=runs, roots=allowed_roots(runs, data_roots), token=policy.token,
            pdf_limits=pdf_limits or Limits())
    app = FastAPI(title="curation data-quality UI", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ui = ui
    app.state.policy = policy
    app.add_middleware(Guard, policy=policy)

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
    """A random token (32 URL-safe characters, 192 bits) for a server given none."""
    return secrets.token_urlsafe(24)
