"""Find the datasets in lake paths: a dataset is a folder of Parquet files, a glob of them, or one file.

A folder counts as a dataset when it holds Parquet files directly; its sub-folders are searched for more
datasets (a run folder thus yields documents/, ledger/NN-stage/, ...). A glob that matches Parquet files
is one dataset named by the glob; a glob that matches folders is searched like folders.
"""

from __future__ import annotations

import glob as _glob
import os
from dataclasses import dataclass, field

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


@dataclass
class Dataset:
    """One lake dataset: its name (the path the user will recognise) and its Parquet files, sorted."""

    path: str
    files: list[str] = field(default_factory=list)


def _is_parquet(name: str) -> bool:
    return name.lower().endswith(PARQUET_SUFFIXES) and not os.path.basename(name).startswith((".", "_"))


def _walk(root: str) -> list[Dataset]:
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not x.startswith((".", "_")))
        parquet = sorted(os.path.join(d, f) for f in files if _is_parquet(f))
        if parquet:
            out.append(Dataset(os.path.abspath(d), [os.path.abspath(p) for p in parquet]))
    return out


def discover(paths: list[str]) -> list[Dataset]:
    """Datasets under `paths`, de-duplicated by path, in a stable order. Raises if a path matches nothing."""
    found: dict[str, Dataset] = {}
    for path in paths:
        if "://" in path:
            raise ValueError(f"{path}: the lake scan reads local paths only (mount remote stores first)")
        if any(c in path for c in "*?["):
            matches = sorted(_glob.glob(path, recursive=True))
            files = [os.path.abspath(m) for m in matches if os.path.isfile(m) and _is_parquet(m)]
            dirs = [m for m in matches if os.path.isdir(m)]
            if files:
                found.setdefault(path, Dataset(path, files))
            for d in dirs:
                for ds in _walk(d):
                    found.setdefault(ds.path, ds)
            if not files and not dirs:
                raise FileNotFoundError(f"{path}: glob matches no Parquet files or folders")
        elif os.path.isdir(path):
            for ds in _walk(path):
                found.setdefault(ds.path, ds)
        elif os.path.isfile(path):
            if not _is_parquet(path):
                raise ValueError(f"{path}: not a Parquet file (expected {', '.join(PARQUET_SUFFIXES)})")
            found.setdefault(os.path.abspath(path), Dataset(os.path.abspath(path), [os.path.abspath(path)]))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return sorted(found.values(), key=lambda d: d.path)
