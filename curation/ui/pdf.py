"""PDF routing data and the blinded parser A/B labelling that feeds the router's preference training.

Parsers are the ingest stage's (`curation.stages.ingest.pdf.parsers`); they and the page renderer run only in
the resource-limited child of `curation.ui.sandbox`. Page numbers are 1-based in URLs and labels, 0-based in
parser calls.
Labels: `<run>/labels/pdf_preferences.jsonl` (format: curation/stages/ingest/pdf/preferences.py).
Design: docs/DESIGN.md#pdf-preference-labelling
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sandbox child imports this module: keep it free of pyarrow
    from curation.ui.runs import Run

LABELS_FILE = "pdf_preferences.jsonl"
PREFERENCES = ("a", "b", "neither")
MAX_PDF_BYTES = 512 * 1024 * 1024
rng = secrets.SystemRandom()
_write_lock = threading.Lock()


# ---------------------------------------------------------------- pdf_pages_json
SCORE_KEYS = ("predicted", "predicted_accuracy", "accuracy", "scores")
HIDDEN = ("offset", "chars")


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_short(x)}" for k, x in v.items()) + "}"
    return str(v)


def pages_info(raw: Any) -> list[dict[str, Any]]:
    """pdf_pages_json as a list of {page (1-based), parser, scores {parser: predicted accuracy}, other}.

    Tolerant of the shapes a router may write: a list of page objects, {"pages": [...]}, or {page: {...}}.
    """
    try:
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except (ValueError, TypeError):
        return []
    if isinstance(data, dict) and isinstance(data.get("pages"), list):
        data = data["pages"]
    elif isinstance(data, dict):
        data = [{"page": k, **v} if isinstance(v, dict) else {"page": k, "parser": v} for k, v in data.items()]
    if not isinstance(data, list):
        return []
    out = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            item = {"parser": item}
        page = item.get("page", item.get("page_number", item.get("index")))
        try:
            page = int(page)
        except (TypeError, ValueError):
            page = None
        parser = next((item[k] for k in ("parser", "parser_used", "used", "chosen", "route") if k in item), None)
        scores: dict[str, float] = {}
        other: dict[str, Any] = {}
        for k, v in item.items():
            if k in ("page", "page_number", "index", "parser", "parser_used", "used", "chosen", "route") or k in HIDDEN:
                continue
            if k in SCORE_KEYS and isinstance(v, dict):
                scores.update({str(p): float(x) for p, x in v.items() if isinstance(x, (int, float))})
            elif isinstance(v, dict):
                other[str(k)] = ", ".join(f"{p}: {_short(x)}" for p, x in v.items())
            elif v is not None:
                other[str(k)] = _short(v)
        out.append({"page": page, "index": i, "parser": None if parser is None else str(parser),
                    "scores": scores, "other": other})
    if out and all(p["page"] is not None for p in out) and min(p["page"] for p in out) == 0:
        for p in out:
            p["page"] += 1
    for p in out:
        if p["page"] is None:
            p["page"] = p["index"] + 1
    return out


# ---------------------------------------------------------------- parsers
def parser_names() -> list[str]:
    """Parsers the A/B view can run: the ingest stage's registry (built-in names only; plugins and HTTP
    parsers are not offered). Parsing and rendering run only in the resource-limited child (curation.ui.sandbox).
    """
    from curation.stages.ingest.pdf.parsers import PARSERS

    return list(PARSERS)


_BLANKS = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_MANY_NL = re.compile(r"\n{2,}")
_MD = re.compile(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+(?=\S))|(\*\*|__)", re.MULTILINE)


def normalise(text: str) -> str:
    """Hide a parser's formatting habits (markdown marks, spacing, hyphen breaks) so outputs stay blind."""
    text = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    text = _MD.sub("", text)
    lines = [_BLANKS.sub(" ", ln).strip() for ln in text.split("\n")]
    return _MANY_NL.sub("\n", "\n".join(lines)).strip()


# ---------------------------------------------------------------- the PDF's bytes
BINARY_COLUMNS = ("pdf_bytes", "content", "raw_bytes", "data")


def pdf_bytes(run: Run, row: dict[str, Any], roots: list[Path]) -> bytes:
    """The PDF behind a document row: a binary column if the run kept one, else its file inside an allowed root."""
    from curation.ui.runs import inside

    for col in BINARY_COLUMNS:
        if isinstance(row.get(col), (bytes, bytearray)) and row[col]:
            return bytes(row[col])
    candidates: list[str] = []
    meta = row.get("metadata")
    if isinstance(meta, str):
        try:
            m = json.loads(meta)
            if isinstance(m, dict):
                candidates += [str(m[k]) for k in ("path", "pdf_path", "file") if m.get(k)]
        except ValueError:
            pass
    for col in ("path", "source"):
        if isinstance(row.get(col), str):
            candidates.append(row[col])
    for cand in candidates:
        cand = cand.removeprefix("file://")
        if "://" in cand:
            continue
        for base in (Path.cwd(), run.path.parent, run.path):
            p = Path(cand) if Path(cand).is_absolute() else base / cand
            if p.is_file() and any(inside(r, p) for r in roots):
                if p.stat().st_size > MAX_PDF_BYTES:
                    raise ValueError(f"{p.name}: larger than {MAX_PDF_BYTES} bytes")
                return p.read_bytes()
    raise FileNotFoundError("the PDF file of this document is not available inside the folders the UI serves")


# ---------------------------------------------------------------- blinded tasks and labels
@dataclass
class Task:
    run: str
    pdf: str
    doc_id: str
    page: int
    left: str
    right: str
    created: float


class TaskStore:
    """Server-side pairing of a blinded task id with the parsers behind its left and right panes.

    The random id also works as a CSRF token: only a page served by this server knows it.
    """

    def __init__(self, limit: int = 10_000):
        self.limit = limit
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, run: str, pdf: str, doc_id: str, page: int, parsers: list[str], used: str | None) -> tuple[str, Task]:
        if len(parsers) < 2:
            raise ValueError("A/B labelling needs at least two parsers")
        first = used if used in parsers else rng.choice(parsers)
        second = rng.choice([p for p in parsers if p != first])
        left, right = (first, second) if rng.random() < 0.5 else (second, first)
        task = Task(run=run, pdf=pdf, doc_id=doc_id, page=page, left=left, right=right, created=time.time())
        tid = secrets.token_urlsafe(18)
        with self._lock:
            self._tasks[tid] = task
            while len(self._tasks) > self.limit:
                self._tasks.popitem(last=False)
        return tid, task

    def get(self, tid: str) -> Task | None:
        with self._lock:
            return self._tasks.get(tid)

    def pop(self, tid: str) -> Task | None:
        with self._lock:
            return self._tasks.pop(tid, None)


def label_record(task: Task, choice: str, reviewer: str | None) -> dict[str, Any]:
    """The JSONL record for a choice of 'left' | 'right' | 'neither' (parser_a is the left pane's parser)."""
    preferred = {"left": "a", "right": "b", "neither": "neither"}.get(choice)
    if preferred is None:
        raise ValueError(f"choice must be left, right or neither, not {choice!r}")
    reviewer = (reviewer or "").strip()[:100] or None
    return {"pdf": task.pdf, "page": int(task.page), "parser_a": task.left, "parser_b": task.right,
            "preferred": preferred, "reviewer": reviewer,
            "time": datetime.now(UTC).isoformat(timespec="seconds")}


def append_label(run: Run, record: dict[str, Any]) -> Path:
    """Append one preference line; one writer at a time, flushed to disk before returning."""
    import os

    from curation.ui.runs import inside

    folder = run.labels_dir
    if not inside(run.path, folder):
        raise PermissionError("labels folder escapes the run folder")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LABELS_FILE
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _write_lock, open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return path


def read_labels(run: Run, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
    """How many labels the run has and the last `limit` of them."""
    path = run.labels_dir / LABELS_FILE
    if not path.is_file():
        return 0, []
    lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    out = []
    for ln in lines[-limit:]:
        try:
            out.append(json.loads(ln))
        except ValueError:
            continue
    return len(lines), out
