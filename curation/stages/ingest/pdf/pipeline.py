"""PDF -> document, in three phases that Spark runs as three mapInArrow steps (frames.py) and tests run
in-process (`parse_pdfs`):

A. cheap (every PDF, in the input's partitions): read bytes, sanity checks, cheap parse + features in the
   sandbox, validity gate, predicted accuracies, proposals for the expensive parser with their priority,
   secondary cheap parser where it is predicted best. Output: one row per PDF with the cheap page texts.
   Then the budget rule over ALL proposals (`apply_budget`; on Spark an ordered limit in frames.py).
B. expensive (only PDFs with pages routed to it, repartitioned to `expensive_concurrency` tasks): the
   expensive parser on exactly those pages, under a time limit per page.
C. finalize: splice re-parsed pages back in page order, page offsets, measured accuracy when a reference
   text is known, decision (kept, or quarantined with a reason), one output row per input PDF.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation import schema as S
from curation.ids import doc_id
from curation.io.readers import domain_of, parse_date
from curation.stages.ingest.pdf.analysis import DocAnalysis
from curation.stages.ingest.pdf.config import PdfConfig
from curation.stages.ingest.pdf.features import FEATURES, text_stats
from curation.stages.ingest.pdf.predictor import load_model
from curation.stages.ingest.pdf.router import (
    BudgetRouter,
    GateThresholds,
    alpha_from_budget,
    priority,
    select_global,
    validity_gate,
)
from curation.stages.ingest.pdf.sandbox import SandboxCrash, SandboxError, SandboxTimeout, run_inline, sandbox
from curation.text.tokens import approx_token_count

PAGE_SEPARATOR = "\n\n"
INPUT_COLUMNS = ("source", "source_id", "url", "crawl_date", "path", "content")


@dataclass
class Plan:
    """What the budget and the model say, resolved once per worker from the config."""

    alpha: float
    cheap: list[str]
    expensive: str
    costs: dict[str, float]
    model_path: str | None
    model_parsers: list[str] = field(default_factory=list)


def resolve_plan(cfg: PdfConfig) -> Plan:
    """alpha (given, or derived from the CPU budget and measured costs) and the parser lists."""
    from curation.stages.ingest.pdf.parsers import get_parser

    model = load_model(cfg.model)
    names = [*cfg.cheap_parsers, cfg.expensive_parser]
    for n in names:
        if n not in model.parsers and n not in cfg.prior_accuracy:
            raise ValueError(f"the router model has no output for parser {n!r}; set ingest.pdf.prior_accuracy.{n}")
    costs = {}
    for n in names:
        costs[n] = float(cfg.costs.get(n, model.costs.get(n, get_parser(n, cfg.http_parsers).seconds_per_page)))
    alpha = cfg.alpha
    if cfg.budget_cpu_seconds_per_page is not None:
        alpha = alpha_from_budget(cfg.budget_cpu_seconds_per_page, costs[cfg.cheap_parsers[0]], costs[cfg.expensive_parser])
    return Plan(alpha, list(cfg.cheap_parsers), cfg.expensive_parser, costs, cfg.model, list(model.parsers))


def _read_bytes(rec: dict, max_bytes: int) -> tuple[bytes | None, str | None, str | None]:
    """The PDF's bytes, or (None, reason, detail); a file over `max_bytes` is refused before it is read."""
    content = rec.get("content")
    if content is not None:
        if len(content) > max_bytes:
            return None, "pdf_too_large", f"{len(content)} bytes > ingest.pdf.max_bytes={max_bytes}"
        return bytes(content), None, None
    path = rec.get("path")
    if not path:
        return None, "pdf_missing", "neither content nor path given"
    try:
        from curation.io import fs

        with fs.open_input(path) if fs.is_uri(path) else open(path, "rb") as f:
            data = f.read(max_bytes + 1)  # never more than the limit in memory, whatever the file's size
        if len(data) > max_bytes:
            return None, "pdf_too_large", f"more than ingest.pdf.max_bytes={max_bytes} bytes"
        return data, None, None
    except (OSError, ValueError) as e:
        return None, "pdf_unreadable", f"{type(e).__name__}: {e}"


def _options(cfg: PdfConfig, plan: Plan) -> dict[str, Any]:
    return {"http_parsers": dict(cfg.http_parsers), "costs": plan.costs, "dpi": cfg.ocr_dpi, "lang": cfg.ocr_lang}


class PdfRouting:
    """The three phases with their per-worker state (router budget, sandbox). Picklable until first use."""

    def __init__(self, cfg: PdfConfig, inline: bool = False):
        self.cfg = cfg
        self.inline = inline
        self._plan: Plan | None = None
        self._router: BudgetRouter | None = None

    def __getstate__(self) -> dict:
        return {"cfg": self.cfg, "inline": self.inline, "_plan": None, "_router": None}

    # -- plumbing -------------------------------------------------------------------------------------
    @property
    def plan(self) -> Plan:
        if self._plan is None:
            self._plan = resolve_plan(self.cfg)
        return self._plan

    @property
    def router(self) -> BudgetRouter:
        if self._router is None:
            p = self.plan
            self._router = BudgetRouter(cheap=p.cheap, expensive=p.expensive, alpha=p.alpha,
                                        min_gain=self.cfg.min_gain, primary=p.cheap[0])
        return self._router

    def _call(self, ref: str, *args: Any, timeout: float) -> Any:
        if self.inline:
            return run_inline(ref, *args)
        return sandbox(self.cfg.memory_limit_mb).call(ref, *args, timeout=timeout)

    def _predict(self, features: list[list[float]]) -> tuple[np.ndarray, list[str]]:
        model = load_model(self.cfg.model)
        names = [*self.plan.cheap, self.plan.expensive]
        raw = model.predict(model.align(features, FEATURES))
        out = np.zeros((raw.shape[0], len(names)))
        for j, n in enumerate(names):
            out[:, j] = raw[:, model.parsers.index(n)] if n in model.parsers else self.cfg.prior_accuracy[n]
        return out, names

    # -- phase A --------------------------------------------------------------------------------------
    def _cheap_one(self, rec: dict) -> tuple[dict, DocAnalysis | None, bytes | None]:
        row: dict[str, Any] = {k: rec.get(k) for k in ("source", "source_id", "url", "crawl_date", "path")}
        row["_key"] = rec.get("_key")
        cfg = self.cfg
        data, reason, detail = _read_bytes(rec, cfg.max_bytes)
        row["_doc_id"] = doc_id(str(rec.get("source") or ""), str(rec.get("source_id") or ""), data if data else reason)
        if data is None:
            return {**row, "_status": reason, "_detail": detail}, None, None
        if b"%PDF-" not in data[:1024]:
            return {**row, "_status": "pdf_not_pdf", "_detail": f"no %PDF- header; starts with {data[:16]!r}"}, None, None
        if cfg.require_eof_marker and b"%%EOF" not in data[-2048:]:
            return {**row, "_status": "pdf_truncated", "_detail": f"no %%EOF marker in the last 2 KiB of {len(data)} bytes"}, None, None
        try:
            a = DocAnalysis.from_dict(self._call("curation.stages.ingest.pdf.jobs:cheap_job", data, cfg.max_pages,
                                                 timeout=cfg.doc_time_limit_s))
        except SandboxTimeout as e:
            return {**row, "_status": "pdf_timeout", "_detail": f"cheap parse: {e}"}, None, None
        except SandboxCrash as e:
            return {**row, "_status": "pdf_parser_crash", "_detail": str(e)}, None, None
        except SandboxError as e:
            msg = e.message.split(": ", 1)[1] if e.reason and e.message.startswith(e.reason + ": ") else e.message
            return {**row, "_status": e.reason or "pdf_corrupt", "_detail": msg}, None, None
        except Exception as e:  # inline mode raises the parser's own exceptions
            return {**row, "_status": getattr(e, "reason", None) or "pdf_corrupt",
                    "_detail": getattr(e, "detail", None) or f"{type(e).__name__}: {e}"}, None, None
        return row, a, data

    def cheap_batch(self, records: list[dict]) -> list[dict]:
        """Phase A over a batch of input rows: proposals only; the budget is applied over everything later."""
        cfg = self.cfg
        th = GateThresholds(**{k: getattr(cfg.gate, k) for k in GateThresholds.__dataclass_fields__})
        done = [self._cheap_one(r) for r in records]
        units: list[tuple[int, list[int]]] = []  # (doc index in batch, pages of the unit)
        feats: list[list[float]] = []
        gates: list[str | None] = []
        page_gates: dict[int, list[str | None]] = {}
        page_preds: dict[int, np.ndarray] = {}
        names: list[str] = []
        for i, (_row, a, _data) in enumerate(done):
            if a is None:
                continue
            g = [validity_gate(text_stats(t), s, th) for t, s in zip(a.texts, a.structures, strict=True)]
            page_gates[i] = g
            pred, names = self._predict(a.features)
            page_preds[i] = pred
            if cfg.mode == "page":
                for p in range(a.n_pages):
                    units.append((i, [p + 1]))
                    feats.append(list(pred[p]))
                    gates.append(g[p])
            else:
                units.append((i, list(range(1, a.n_pages + 1))))
                feats.append(list(pred.mean(0)))
                bad = [x for x in g if x]
                gates.append(Counter(bad).most_common(1)[0][0] if len(bad) * 2 >= max(1, len(g)) else None)
        decisions = self.router.propose(np.asarray(feats).reshape(len(feats), len(names) or 1), names, gates) if units else []
        per_doc: dict[int, dict[int, Any]] = {}
        for (i, pages), d in zip(units, decisions, strict=True):
            for p in pages:
                per_doc.setdefault(i, {})[p] = d
        out = []
        for i, (row, a, data) in enumerate(done):
            if a is None:
                out.append(row)
                continue
            out.append(self._cheap_row(row, a, data, per_doc[i], page_gates[i], page_preds[i], names))
        return out

    def _cheap_row(self, row: dict, a: DocAnalysis, data: bytes, decisions: dict[int, Any],
                   gates: list[str | None], preds: np.ndarray, names: list[str]) -> dict:
        plan = self.plan
        texts = list(a.texts)
        per_page_s = a.seconds / max(1, a.n_pages)
        pages = []
        for p in range(1, a.n_pages + 1):
            d = decisions[p]
            predicted = {n: round(float(preds[p - 1, j]), 4) for j, n in enumerate(names)}
            pages.append({"page": p, "parser": d.parser,
                          "gate": gates[p - 1], "predicted": predicted, "improvement": round(d.improvement, 4),
                          "seconds": {plan.cheap[0]: round(per_page_s, 5)}, "note": None})
        # secondary cheap parsers where predicted best
        for name in plan.cheap[1:]:
            sel = [pg["page"] for pg in pages if pg["parser"] == name]
            if not sel:
                continue
            try:
                got, secs = self._call("curation.stages.ingest.pdf.jobs:parse_job", name, _options(self.cfg, plan), data, sel,
                                       timeout=self.cfg.doc_time_limit_s)
                for p, t in zip(sel, got, strict=True):
                    texts[p - 1] = t
                    pages[p - 1]["seconds"][name] = round(secs / len(sel), 5)
            except Exception as e:  # keep the primary text, say why
                for p in sel:
                    pages[p - 1]["parser"] = plan.cheap[0]
                    pages[p - 1]["note"] = f"{name} failed: {type(e).__name__}: {str(e)[:200]}"
        if self.cfg.mode == "page":
            cands = [(p, priority(decisions[p]), bool(gates[p - 1])) for p in range(1, a.n_pages + 1)
                     if decisions[p].proposed_expensive or gates[p - 1]]
            units = a.n_pages
        else:
            d1 = decisions[1]
            cands = [(0, priority(d1), any(gates))] if d1.proposed_expensive or any(gates) else []
            units = 1
        for pg in pages:
            pg["proposed"] = bool(decisions[pg["page"]].proposed_expensive)
        meta = {k.lower(): v for k, v in a.metadata.items() if k in ("Title", "Author", "Producer", "Creator", "CreationDate")}
        return {**row, "_status": None, "_detail": None, "_n_pages": a.n_pages, "_texts": texts,
                "_pages": json.dumps(pages), "_units": units, "_cand_pages": [c[0] for c in cands],
                "_cand_scores": [round(c[1], 6) for c in cands], "_cand_required": [c[2] for c in cands],
                "_data": data if cands else None,
                "_meta": json.dumps(meta, ensure_ascii=False), "_producer": a.producer}

    # -- phase B --------------------------------------------------------------------------------------
    def expensive_one(self, row: dict) -> dict:
        """Run the expensive parser on the pages the budget selected (`_selected`; [0] = the whole document)."""
        pages = selected_pages(row)
        out = {"_key": row.get("_key"), "_exp_texts": None, "_exp_seconds": None, "_exp_error": None}
        if not pages:
            return out
        plan = self.plan
        try:
            texts, secs = self._call("curation.stages.ingest.pdf.jobs:parse_job", plan.expensive, _options(self.cfg, plan),
                                     row["_data"], pages, timeout=self.cfg.expensive_time_limit_s_per_page * len(pages))
            out["_exp_texts"], out["_exp_seconds"] = texts, float(secs)
        except SandboxTimeout as e:
            out["_exp_error"] = f"pdf_timeout: {plan.expensive}: {e}"
        except SandboxCrash as e:
            out["_exp_error"] = f"pdf_parser_crash: {plan.expensive}: {e}"
        except Exception as e:
            out["_exp_error"] = f"pdf_parser_error: {plan.expensive}: {type(e).__name__}: {str(e)[:300]}"
        return out

    # -- phase C --------------------------------------------------------------------------------------
    def finalize(self, row: dict, exp: dict | None) -> dict:
        base = {
            "doc_id": row["_doc_id"], "source_id": str(row.get("source_id") or row.get("path") or ""),
            "source": str(row.get("source") or row.get("path") or ""), "source_type": "pdf",
            "url": row.get("url"), "domain": domain_of(row.get("url")), "crawl_date": parse_date(row.get("crawl_date")),
            "language": None, "language_score": None, "related_id": None,
        }
        if row.get("_status"):
            return {**base, "text": None, "token_count": None, "metadata": None, "decision": S.QUARANTINED,
                    "reason": row["_status"], "detail": (row.get("_detail") or "")[:2000], "pdf_pages": row.get("_n_pages")}
        plan = self.plan
        texts = list(row["_texts"])
        pages = json.loads(row["_pages"])
        notes = []
        exp = exp or {}
        routed = selected_pages(row)
        failed: str | None = None
        cheap_choice = {p: pages[p - 1]["parser"] for p in routed}
        for p in routed:
            pages[p - 1]["parser"] = plan.expensive
        if routed:
            if exp.get("_exp_texts") is not None and len(exp["_exp_texts"]) == len(routed):
                per = (exp.get("_exp_seconds") or 0.0) / len(routed)
                for p, t in zip(routed, exp["_exp_texts"], strict=True):
                    texts[p - 1] = t
                    pages[p - 1]["seconds"][plan.expensive] = round(per, 4)
            else:
                err = exp.get("_exp_error") or f"{plan.expensive}: no result"
                if self.cfg.on_expensive_failure == "quarantine":
                    reason = err.split(":", 1)[0] if err.startswith("pdf_") else "pdf_parser_error"
                    return {**base, "text": None, "token_count": None, "metadata": row.get("_meta"),
                            "decision": S.QUARANTINED, "reason": reason, "detail": err[:2000], "pdf_pages": row["_n_pages"]}
                for p in routed:
                    pages[p - 1]["parser"] = cheap_choice[p]
                    pages[p - 1]["note"] = f"fallback to cheap text: {err[:200]}"
                notes.append(f"expensive parser failed on {len(routed)} page(s), cheap text kept: {err[:300]}")
                failed = err
        unread = self._unread_pages(pages, texts, routed, failed)
        if unread:
            reason, detail = unread
            decision = S.DROPPED if reason in ("pdf_ocr_budget_exhausted", "pdf_no_text") else S.QUARANTINED
            return {**base, "text": PAGE_SEPARATOR.join(texts) if decision == S.DROPPED else None, "token_count": None,
                    "metadata": row.get("_meta"), "decision": decision, "reason": reason, "detail": detail[:2000],
                    "pdf_pages": row["_n_pages"], "pdf_pages_json": json.dumps(pages, ensure_ascii=False)}
        offset = 0
        for pg, t in zip(pages, texts, strict=True):
            pg["offset"], pg["chars"] = offset, len(t)
            offset += len(t) + len(PAGE_SEPARATOR)
        measured = self._measure(row, texts, pages)
        text = PAGE_SEPARATOR.join(texts)
        used = [pg["parser"] for pg in pages]
        predicted = [pg["predicted"].get(pg["parser"]) for pg in pages]
        predicted = [x for x in predicted if x is not None]
        return {**base, "text": text, "token_count": approx_token_count(text), "metadata": row.get("_meta"),
                "decision": S.KEPT, "reason": None, "detail": "; ".join(notes) or None,
                "pdf_pages": row["_n_pages"], "pdf_parsers": ",".join(dict.fromkeys(used)),
                "pdf_expensive_pages": sum(1 for u in used if u == plan.expensive),
                "pdf_pages_json": json.dumps(pages, ensure_ascii=False),
                "pdf_predicted_accuracy": float(np.mean(predicted)) if predicted else None,
                "pdf_measured_accuracy": measured,
                "pdf_seconds": round(sum(sum(pg["seconds"].values()) for pg in pages), 4),
                "pdf_producer": row.get("_producer")}

    def _unread_pages(self, pages: list[dict], texts: list[str], routed: list[int], failed: str | None
                      ) -> tuple[str, str] | None:
        """Mark every page without text (`empty` and a note saying why); (reason, detail) when the document must not
        be kept: an unreadable page the hard cap left out, one the expensive parser failed on, or no text at all."""
        capped, broken = [], []
        for pg, t in zip(pages, texts, strict=True):
            if t.strip():
                continue
            p = pg["page"]
            pg["empty"] = True
            if pg.get("gate") and p not in routed:
                capped.append(p)
                pg["note"] = f"unreadable ({pg['gate']}) and left out by ingest.pdf.expensive_hard_cap"
            elif pg.get("gate") and failed:
                broken.append(p)
            elif pg.get("note") is None:
                pg["note"] = f"no text: blank page ({pg['parser']} found none)"
        if capped:
            return "pdf_ocr_budget_exhausted", (f"page(s) {_pages_list(capped)} have no usable text layer and "
                                                 "ingest.pdf.expensive_hard_cap left them out; rerun with a bigger cap")
        if broken:
            reason = failed.split(":", 1)[0] if failed and failed.startswith("pdf_") else "pdf_parser_error"
            return reason, f"unreadable page(s) {_pages_list(broken)} got no text: {failed}"
        if pages and all(pg.get("empty") for pg in pages):
            return "pdf_no_text", f"none of the {len(pages)} page(s) has text after parsing"
        return None

    def _measure(self, row: dict, texts: list[str], pages: list[dict]) -> float | None:
        """Measured BLEU per page (and doc mean) when `reference_dir` has `<stem>.txt` for this PDF."""
        if not self.cfg.reference_dir:
            return None
        from curation.stages.ingest.pdf.metrics import page_scores, reference_pages

        stem = Path(str(row.get("path") or row.get("source_id") or "")).stem
        ref = Path(self.cfg.reference_dir) / f"{stem}.txt"
        if not stem or not ref.exists():
            return None
        truth = reference_pages(ref)
        vals = []
        for pg, t in zip(pages, texts, strict=True):
            if pg["page"] <= len(truth):
                sc = page_scores(t, truth[pg["page"] - 1])
                pg["measured"] = {pg["parser"]: {k: round(v, 4) for k, v in sc.items()}}
                vals.append(sc["bleu"])
        return float(np.mean(vals)) if vals else None


def _pages_list(pages: list[int], limit: int = 20) -> str:
    shown = ", ".join(map(str, pages[:limit]))
    return shown + (f" and {len(pages) - limit} more" if len(pages) > limit else "")


def selected_pages(row: dict) -> list[int]:
    """1-based pages the budget gave to the expensive parser (0 in `_selected` means every page)."""
    sel = list(row.get("_selected") or [])
    if 0 in sel:
        return list(range(1, int(row.get("_n_pages") or 0) + 1))
    return sorted(int(p) for p in sel)


def apply_budget(rows: list[dict], alpha: float, hard_cap: float | None = None) -> int:
    """Global budget rule over phase-A rows (in place: sets `_selected`); returns the number of units chosen."""
    units = sum(int(r.get("_units") or 0) for r in rows)
    cands, required = [], set()
    for r in rows:
        pages, scores = r.get("_cand_pages") or [], r.get("_cand_scores") or []
        flags = r.get("_cand_required") or [False] * len(pages)
        for p, score, must in zip(pages, scores, flags, strict=True):
            cands.append((score, (int(r["_key"]), int(p))))
            if must:
                required.add((int(r["_key"]), int(p)))
    chosen = select_global(cands, alpha, units, required, hard_cap)
    by_key: dict[int, list[int]] = {}
    for key, page in chosen:  # type: ignore[misc]
        by_key.setdefault(key, []).append(page)
    for r in rows:
        r["_selected"] = sorted(by_key.get(int(r["_key"]), []))
    return len(chosen)


def parse_pdfs(records: list[dict], cfg: PdfConfig | None = None, inline: bool = False) -> list[dict]:
    """All three phases in this process (no Spark): one output row per input record, same order."""
    routing = PdfRouting(cfg or PdfConfig(), inline=inline)
    for i, r in enumerate(records):
        r.setdefault("_key", i)
    cheap = routing.cheap_batch(records)
    apply_budget(cheap, routing.plan.alpha, routing.cfg.expensive_hard_cap)
    return [routing.finalize(row, routing.expensive_one(row) if row.get("_selected") else None) for row in cheap]
