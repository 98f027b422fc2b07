"""Run folders as the UI sees them: manifest, stages, and the Parquet files of each part of a stage.

Requests never carry a path: they name a run by its key (from the folders given on the command line)
and a stage by its label (`NN-name`, from the manifest). Every file the UI opens is found by listing a
folder that was resolved here and checked to lie inside its run folder.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.io import run_folder as RF
from curation.io.run_folder import MANIFEST

_SAFE_KEY = re.compile(r"[^A-Za-z0-9._-]+")


def inside(root: Path, path: Path) -> bool:
    """True when `path` (after resolving links and ..) lies inside `root`."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def parquet_files(folder: Path | None) -> list[str]:
    """The part files of a Parquet folder, sorted (empty when the folder is missing)."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.glob("*.parquet") if p.is_file() and not p.name.startswith((".", "_")))


@dataclass
class StageInfo:
    """One stage of a run: its manifest entry and the folders that hold its rows."""

    index: int
    name: str
    entry: dict[str, Any]
    kept_dir: Path | None
    ledger_dir: Path | None
    rejected_dir: Path | None

    @property
    def label(self) -> str:
        return f"{self.index:02d}-{self.name}"

    @property
    def kept_files(self) -> list[str]:
        return parquet_files(self.kept_dir)

    @property
    def ledger_files(self) -> list[str]:
        return parquet_files(self.ledger_dir)

    @property
    def rejected_files(self) -> list[str]:
        return parquet_files(self.rejected_dir)

    @property
    def reasons(self) -> dict[str, dict[str, Any]]:
        return dict(self.entry.get("reasons") or {})

    def counts(self, what: str) -> dict[str, int]:
        raw = self.entry.get(what) or {}
        return {k: int(raw.get(k) or 0) for k in ("in", "kept", "dropped", "quarantined")}


@dataclass
class Run:
    """A run folder given to `curation ui`; `key` is what URLs use to name it."""

    key: str
    path: Path
    manifest: dict[str, Any] = field(repr=False)
    _schemas: dict[tuple[str, ...], pa.Schema] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, key: str, path: Path) -> Run:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path / MANIFEST}: not a JSON object")
        return cls(key=key, path=path.resolve(), manifest=data)

    def _dir(self, rel: Any) -> Path | None:
        """A folder named in the manifest, only if it stays inside the run folder."""
        if not isinstance(rel, str) or not rel:
            return None
        p = Path(rel)
        p = p if p.is_absolute() else self.path / p
        return p if inside(self.path, p) else None

    @cached_property
    def stages(self) -> list[StageInfo]:
        out = []
        for i, st in enumerate(self.manifest.get("stages") or []):
            if not isinstance(st, dict):
                continue
            index = int(st.get("index", i))
            name = _SAFE_KEY.sub("_", str(st.get("name", f"stage{i}")))
            label = RF.label(index, name)
            out.append(StageInfo(
                index=index, name=name, entry=st,
                kept_dir=self._dir(st.get("documents")),
                ledger_dir=self._dir(st.get("ledger") or RF.ledger_dir("", label)),
                rejected_dir=self._dir(st.get("rejected") or RF.rejected_dir("", label)),
            ))
        return out

    def stage(self, label: str) -> StageInfo | None:
        return next((s for s in self.stages if s.label == label or s.name == label), None)

    def stage_named(self, *names: str) -> StageInfo | None:
        """The last stage whose name is one of `names`."""
        found = [s for s in self.stages if s.name in names]
        return found[-1] if found else None

    def input_files(self, st: StageInfo) -> list[str]:
        """Kept documents that entered stage `st` (the previous stage's output)."""
        before = [s for s in self.stages if s.index < st.index]
        return before[-1].kept_files if before else []

    @property
    def final_files(self) -> list[str]:
        docs = self._dir(self.manifest.get("documents") or RF.DOCUMENTS)
        files = parquet_files(docs)
        if not files and self.stages:
            files = self.stages[-1].kept_files
        return files

    @property
    def all_ledger_files(self) -> list[str]:
        return [f for s in self.stages for f in s.ledger_files]

    def schema(self, files: list[str]) -> pa.Schema:
        """Union of the files' schemas, read from Parquet footers only (cached per file list)."""
        key = tuple(files)
        if key not in self._schemas:
            schemas = []
            for f in files:
                try:
                    schemas.append(pq.read_schema(f))
                except (OSError, pa.ArrowInvalid):
                    continue
            self._schemas[key] = (pa.unify_schemas([s.remove_metadata() for s in schemas], promote_options="permissive")
                                  if schemas else pa.schema([]))
        return self._schemas[key]

    def columns(self, files: list[str]) -> list[str]:
        return list(self.schema(files).names)

    @property
    def labels_dir(self) -> Path:
        return self.path / "labels"

    @property
    def created(self) -> str:
        return str(self.manifest.get("created_at") or "")

    def final_counts(self) -> dict[str, int]:
        if not self.stages:
            return {"docs": 0, "tokens": 0}
        last = self.stages[-1]
        return {"docs": last.counts("docs")["kept"], "tokens": last.counts("tokens")["kept"]}


def discover(dirs: list[str]) -> dict[str, Run]:
    """Run folders among `dirs`: each is a run folder or a folder whose children are run folders."""
    found: list[Path] = []
    for d in dirs:
        p = Path(d).expanduser()
        if (p / MANIFEST).is_file():
            found.append(p)
        elif p.is_dir():
            found.extend(sorted(c for c in p.iterdir() if (c / MANIFEST).is_file()))
        else:
            raise FileNotFoundError(f"{d}: not a run folder (no {MANIFEST}) nor a folder of run folders")
    runs: dict[str, Run] = {}
    for p in found:
        base = _SAFE_KEY.sub("_", p.resolve().name) or "run"
        key, n = base, 2
        while key in runs:
            key, n = f"{base}-{n}", n + 1
        try:
            runs[key] = Run.load(key, p)
        except (OSError, ValueError) as e:  # a broken manifest must not take the other runs down
            raise ValueError(f"{p / MANIFEST}: {e}") from e
    if not runs:
        raise FileNotFoundError(f"no run folders (with {MANIFEST}) under {', '.join(dirs)}")
    return runs


def allowed_roots(runs: dict[str, Run], extra: list[str] | None = None) -> list[Path]:
    """Folders the UI may read source files (PDFs) from: the runs, their recorded inputs, and `extra`."""
    roots = [r.path for r in runs.values()]
    for r in runs.values():
        for inp in r.manifest.get("inputs") or []:
            if isinstance(inp, str) and "://" not in inp:
                p = Path(os.path.expanduser(inp))
                if p.exists():
                    roots.append((p if p.is_dir() else p.parent).resolve())
    roots.extend(Path(e).resolve() for e in extra or [])
    return roots
