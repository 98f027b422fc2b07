"""What every page of the UI shares: the runs, the templates, the A/B tasks, the token and PDF limits (`UI`), paging."""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from curation.ui import charts
from curation.ui.pdf import TaskStore
from curation.ui.runs import Run
from curation.ui.sandbox import Limits

HERE = Path(__file__).parent
PAGE_SIZE = 25


class NotFound(StarletteHTTPException):
    def __init__(self, what: str):
        super().__init__(status_code=404, detail=what)


@dataclass
class UI:
    """What every page needs: the runs, where source files may be read from, the A/B tasks, the token.

    `pdf_limits`: what one PDF job in the sandbox child may use.
    """

    runs: dict[str, Run]
    roots: list[Path]
    token: str | None = None
    pdf_limits: Limits = field(default_factory=Limits)
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
        """True when no token is set, or `given` is it (constant-time)."""
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def may_write(self, request: Request, form_token: str | None) -> bool:
        """Whether this request may write labels: the guard saw the token (header or cookie), or the form has it."""
        state = request.scope.get("state") or {}
        return bool(state.get("token_ok")) or self.token_ok(form_token)


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


