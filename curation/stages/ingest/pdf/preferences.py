"""Human preferences between two parsers' outputs of the same page, and the step that aligns the router with them.

File format (JSON Lines; the web UI appends one line per judgement to `<run_dir>/labels/pdf_preferences.jsonl`):

    {"pdf": "<source_id>", "page": 3, "parser_a": "pdfium", "parser_b": "tesseract",
     "preferred": "a" | "b" | "neither", "reviewer": "alice" | null, "time": "2026-11-26T05:00:00+00:00"}

- `pdf`: the document's source_id (for PDF files: the path the ingest stage gave it);
- `page`: 1-based page number; `parser_a` / `parser_b`: parser names as in parsers.PARSERS (or config names);
- `preferred`: which text the reviewer found closer to the page image, or "neither" when both are unusable;
- `reviewer`: free text or null; `time`: ISO-8601 with timezone.
Unknown keys are ignored; a malformed line is reported with its line number and skipped, never fatal.

Alignment: a Bradley-Terry objective on score differences, anchored to the model before alignment and to the
regression data. Design (why not DPO, the loss terms): docs/DESIGN.md#pdf-preference-alignment
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from curation.stages.ingest.pdf.predictor import RouterModel

CHOICES = ("a", "b", "neither")


@dataclass
class Preference:
    pdf: str
    page: int
    parser_a: str
    parser_b: str
    preferred: str
    reviewer: str | None = None
    time: str | None = None

    def validate(self) -> None:
        if not isinstance(self.pdf, str) or not self.pdf:
            raise ValueError("pdf must be a non-empty string (the document's source_id)")
        if not isinstance(self.page, int) or isinstance(self.page, bool) or self.page < 1:
            raise ValueError(f"page must be an integer >= 1, got {self.page!r}")
        if not self.parser_a or not self.parser_b or self.parser_a == self.parser_b:
            raise ValueError("parser_a and parser_b must be two different parser names")
        if self.preferred not in CHOICES:
            raise ValueError(f"preferred must be one of {CHOICES}, got {self.preferred!r}")
        if self.time is not None:
            datetime.fromisoformat(str(self.time).replace("Z", "+00:00"))


def append_preference(path: str | Path, pref: Preference) -> None:
    """Append one judgement (what the UI does); the time is filled in when missing."""
    if pref.time is None:
        pref.time = datetime.now(UTC).isoformat(timespec="seconds")
    pref.validate()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(pref), ensure_ascii=False) + "\n")


def read_preferences(path: str | Path) -> tuple[list[Preference], list[str]]:
    """(valid preferences, problems as 'line N: why')."""
    prefs, problems = [], []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise ValueError("not a JSON object")
            pref = Preference(pdf=d.get("pdf"), page=d.get("page"), parser_a=d.get("parser_a"),
                              parser_b=d.get("parser_b"), preferred=d.get("preferred"),
                              reviewer=d.get("reviewer"), time=d.get("time"))
            pref.validate()
            prefs.append(pref)
        except (ValueError, TypeError) as e:
            problems.append(f"line {n}: {e}")
    return prefs, problems


@dataclass
class AlignSettings:
    tau: float = 0.1
    theta: float = 0.5
    lambda_ref: float = 1.0
    lambda_reg: float = 1.0
    lr: float = 0.003
    epochs: int = 300
    weight_decay: float = 1e-3


def bt_loss(X: np.ndarray, a: np.ndarray, b: np.ndarray, pref: np.ndarray, y_ref: np.ndarray,
            s: AlignSettings, X_reg: np.ndarray | None = None, Y_reg: np.ndarray | None = None):
    """Loss and gradient function for RouterModel.fit: Bradley-Terry + 'neither' + anchors (see module doc)."""
    n = max(1, len(X))

    def sig(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def loss_grad(model: RouterModel):
        Y = model.predict(X)
        dY = np.zeros_like(Y)
        idx = np.arange(len(X))
        ya, yb = Y[idx, a], Y[idx, b]
        sign = np.where(pref == 0, 1.0, -1.0)  # 0: a preferred, 1: b preferred
        pair = pref < 2
        z = sign * (ya - yb) / s.tau
        loss = float(-np.log(sig(z[pair]) + 1e-12).sum())
        g = -(1 - sig(z)) * sign / s.tau * pair
        np.add.at(dY, (idx, a), g)
        np.add.at(dY, (idx, b), -g)
        nei = pref == 2
        for col in (a, b):
            zn = (s.theta - Y[idx, col]) / s.tau
            loss += float(-np.log(sig(zn[nei]) + 1e-12).sum())
            np.add.at(dY, (idx, col), (1 - sig(zn)) / s.tau * nei)
        diff = Y - y_ref
        loss += s.lambda_ref * float((diff ** 2).sum())
        dY += 2 * s.lambda_ref * diff
        grads = model.grads(X, dY / n)
        loss /= n
        if X_reg is not None and Y_reg is not None and len(X_reg):
            P = model.predict(X_reg)
            d = P - Y_reg
            m = len(X_reg) * Y_reg.shape[1]
            loss += s.lambda_reg * float((d ** 2).sum() / m)
            g2 = model.grads(X_reg, 2 * s.lambda_reg * d / m)
            grads = [g1 + g2_ for g1, g2_ in zip(grads, g2, strict=True)]
        return loss, grads

    return loss_grad


def pairwise_accuracy(model: RouterModel, X: np.ndarray, a: np.ndarray, b: np.ndarray, pref: np.ndarray) -> float:
    """Share of a/b judgements where the model ranks the preferred parser higher."""
    pair = pref < 2
    if not pair.any():
        return float("nan")
    Y = model.predict(X)
    idx = np.arange(len(X))
    says_a = Y[idx, a] > Y[idx, b]
    return float((says_a[pair] == (pref[pair] == 0)).mean())


def align(model: RouterModel, X: np.ndarray, a: np.ndarray, b: np.ndarray, pref: np.ndarray,
          settings: AlignSettings | None = None, X_reg: np.ndarray | None = None,
          Y_reg: np.ndarray | None = None) -> tuple[RouterModel, dict]:
    """A new model updated from preferences; `a`, `b` are column indices into model.parsers, pref 0/1/2 = a/b/neither."""
    s = settings or AlignSettings()
    aligned = model.copy()
    y_ref = model.predict(X)
    before = pairwise_accuracy(model, X, a, b, pref)
    hist = aligned.fit(bt_loss(X, a, b, pref, y_ref, s, X_reg, Y_reg), epochs=s.epochs, lr=s.lr,
                       weight_decay=s.weight_decay)
    after = pairwise_accuracy(aligned, X, a, b, pref)
    report = {"preferences": int(len(X)), "pairs": int((pref < 2).sum()), "neither": int((pref == 2).sum()),
              "pairwise_accuracy_before": before, "pairwise_accuracy_after": after,
              "loss_first": hist[0] if hist else None, "loss_last": hist[-1] if hist else None,
              "settings": asdict(s)}
    aligned.training = {**model.training, "alignment": report}
    return aligned, report


def preference_features(prefs: list[Preference], pdf_paths: dict[str, str]
                        ) -> tuple[list[int], list[list[float]], list[str]]:
    """Features of each judged page (indices of usable prefs, features, problems).

    `pdf_paths` maps a preference's `pdf` (source_id) to a readable PDF file; see `resolve_pdfs`.
    """
    from curation.stages.ingest.pdf.analysis import analyse

    cache: dict[str, object] = {}
    keep, feats, problems = [], [], []
    for i, p in enumerate(prefs):
        path = pdf_paths.get(p.pdf)
        if path is None:
            problems.append(f"{p.pdf}: no PDF file found")
            continue
        if path not in cache:
            try:
                cache[path] = analyse(Path(path).read_bytes())
            except Exception as e:
                cache[path] = e
        a = cache[path]
        if isinstance(a, Exception):
            problems.append(f"{p.pdf}: cannot analyse ({a})")
            continue
        if p.page > a.n_pages:  # type: ignore[attr-defined]
            problems.append(f"{p.pdf}: page {p.page} > {a.n_pages} pages")  # type: ignore[attr-defined]
            continue
        keep.append(i)
        feats.append(a.features[p.page - 1])  # type: ignore[attr-defined]
    return keep, feats, problems


def resolve_pdfs(ids: set[str], search: list[str]) -> dict[str, str]:
    """Map source_ids to files: the id itself when it is a path, else a file under `search` with that
    name or stem (source_ids of PDFs from files are paths; ids from WARC records need `search`)."""
    found: dict[str, str] = {}
    candidates: dict[str, str] = {}
    for root in search:
        r = Path(root)
        for f in ([r] if r.is_file() else sorted(r.rglob("*.pdf")) if r.is_dir() else []):
            candidates.setdefault(f.name, str(f))
            candidates.setdefault(f.stem, str(f))
    for sid in ids:
        if Path(sid).is_file():
            found[sid] = sid
            continue
        name = sid.rsplit("/", 1)[-1]
        for key in (name, Path(name).stem):
            if key in candidates:
                found[sid] = candidates[key]
                break
    return found
