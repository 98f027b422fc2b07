"""manifest.json: what a run did, per stage, and which finished shards exist.

It is rewritten atomically after every stage; a stage is only listed `done` once its shards, ledger
and rejected rows are all in place, which is what lets a killed run resume without redoing or
duplicating work.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from curation import schema as S
from curation.io import fs, run_folder


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Manifest:
    def __init__(self, run_dir: str, data: dict[str, Any]):
        self.run_dir = run_dir
        self.data = data

    @classmethod
    def load(cls, run_dir: str) -> Manifest | None:
        path = run_folder.manifest_path(run_dir)
        if not fs.exists(path):
            return None
        return cls(run_dir, json.loads(fs.read_text(path)))

    @classmethod
    def open(cls, run_dir: str, config_hash: str, config: dict[str, Any], inputs: list[str]) -> Manifest:
        old = cls.load(run_dir)
        data = old.data if old else {"created_at": now(), "stages": []}
        data.update(
            schema_version=S.MANIFEST_SCHEMA_VERSION,
            document_schema_version=S.DOCUMENT_SCHEMA_VERSION,
            run_id=config_hash,
            config_hash=config_hash,
            config=config,
            inputs=inputs,
        )
        data.setdefault("models", {})
        return cls(run_dir, data)

    @property
    def stages(self) -> list[dict[str, Any]]:
        return self.data["stages"]

    def stage(self, index: int) -> dict[str, Any] | None:
        return self.stages[index] if index < len(self.stages) else None

    def set_stage(self, index: int, entry: dict[str, Any]) -> None:
        """Record stage `index`; later stages are forgotten (they depended on the old result)."""
        del self.stages[index:]
        self.stages.append(entry)

    def truncate(self, count: int) -> None:
        del self.stages[count:]

    def save(self) -> None:
        self.data["updated_at"] = now()
        fs.makedirs(self.run_dir)
        fs.write_text_atomic(run_folder.manifest_path(self.run_dir), json.dumps(self.data, indent=2, default=str) + "\n")


def stage_counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Funnel numbers from grouped (decision, reason, docs, tokens) rows."""
    docs = {"in": 0, S.KEPT: 0, S.DROPPED: 0, S.QUARANTINED: 0}
    tokens = dict(docs)
    reasons: dict[str, dict[str, Any]] = {}
    for r in rows:
        n, t = int(r["docs"]), int(r["tokens"] or 0)
        docs["in"] += n
        tokens["in"] += t
        docs[r["decision"]] += n
        tokens[r["decision"]] += t
        if r["decision"] != S.KEPT:  # a drop without a reason is still counted, under "unspecified"
            entry = reasons.setdefault(r["reason"] or "unspecified", {"decision": r["decision"], "docs": 0, "tokens": 0})
            entry["docs"] += n
            entry["tokens"] += t
    return {"docs": docs, "tokens": tokens, "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1]["docs"]))}


class AccountingError(RuntimeError):
    """The ledger does not account for every document (a bug in a stage or the runner: never data's fault)."""


def funnel_problems(manifest: dict[str, Any]) -> list[str]:
    """Where the funnel does not add up: per stage in = kept + dropped + quarantined (documents and tokens),
    and every stage's input is exactly the previous stage's kept documents (plus, for a stage that creates
    documents such as rewrite, the ones it made)."""
    out = []
    previous_kept = None
    for st in manifest.get("stages", []):
        if st.get("status") != "done":
            continue
        d = st.get("docs", {})
        parts = d.get(S.KEPT, 0) + d.get(S.DROPPED, 0) + d.get(S.QUARANTINED, 0)
        if d.get("in", 0) != parts:
            out.append(f"{st['name']}: in {d.get('in', 0)} != kept + dropped + quarantined {parts}")
        reasons = sum(r["docs"] for r in st.get("reasons", {}).values())
        if reasons != d.get(S.DROPPED, 0) + d.get(S.QUARANTINED, 0):
            out.append(f"{st['name']}: reasons account for {reasons} of {d.get(S.DROPPED, 0) + d.get(S.QUARANTINED, 0)} "
                       "dropped and quarantined documents")
        if previous_kept is not None and (d.get("in", 0) < previous_kept if st.get("creates_documents")
                                          else d.get("in", 0) != previous_kept):
            out.append(f"{st['name']}: in {d.get('in', 0)} != {previous_kept} kept by the stage before")
        previous_kept = d.get(S.KEPT, 0)
    return out


def funnel_table(manifest: dict[str, Any]) -> str:
    """The funnel as a plain-text table (`curation inspect`)."""
    head = f"{'stage':<16}{'in':>10}{'kept':>10}{'dropped':>10}{'quar.':>8}{'tokens in':>14}{'tokens kept':>14}  top reasons"
    lines = [head, "-" * len(head)]
    for st in manifest.get("stages", []):
        d, t = st.get("docs", {}), st.get("tokens", {})
        reasons = ", ".join(f"{k}={v['docs']}" for k, v in list(st.get("reasons", {}).items())[:3])
        status = "" if st.get("status") == "done" else f" ({st.get('status')})"
        lines.append(
            f"{st['name'] + status:<16}{d.get('in', 0):>10}{d.get('kept', 0):>10}{d.get('dropped', 0):>10}"
            f"{d.get('quarantined', 0):>8}{t.get('in', 0):>14}{t.get('kept', 0):>14}  {reasons}"
        )
    return "\n".join(lines)
