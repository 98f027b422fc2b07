"""The shipped default quality model: its training data selection and its build.

    .venv/bin/python -m tools.quality_model select-data --output DIR   (the default model's training data)
    .venv/bin/python -m tools.quality_model build-default [--output PATH] (select-data + train + eval)

The data selection is tools/quality_data.py; training and evaluation are `curation quality train/eval`'s.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from curation.commands.quality import _split, _train, _train_args, evaluate


def _default_dirs(a: argparse.Namespace) -> tuple[Path, Path | None]:
    repo = Path(__file__).resolve().parents[1]
    sample = Path(a.sample_dir) if a.sample_dir else repo / "sample_data"
    ext = Path(a.ext_dir) if a.ext_dir else None  # the shipped model was built with it (notes/issue-5.md)
    if ext is not None and not ext.is_dir():
        raise FileNotFoundError(f"--ext-dir {ext}: not a folder")
    return sample, ext


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sample-dir", help="repo sample_data (default: ./sample_data next to the package)")
    p.add_argument("--ext-dir", help="external evaluation data (sample_data_ext layout; optional, adds Wikipedia positives)")
    p.add_argument("--max-per-class", type=int, default=6000)
    p.add_argument("--data-seed", type=int, default=0)


def cmd_select_data(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.quality_model select-data", description="Write the default model's training data.")
    p.add_argument("--output", "-o", required=True, help="folder for positives.jsonl, negatives.jsonl, selection.json")
    _data_args(p)
    a = p.parse_args(argv)
    from tools.quality_data import select, write_jsonl

    sample, ext = _default_dirs(a)
    pos, neg, stats = select(sample, ext, a.max_per_class, a.data_seed)
    out = Path(a.output)
    write_jsonl(out / "positives.jsonl", pos)
    write_jsonl(out / "negatives.jsonl", neg)
    (out / "selection.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats, indent=2))
    return 0


def cmd_build_default(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.quality_model build-default",
                                description="Select the default training data, train, evaluate on a 10%% holdout, write the model.")
    from curation.stages.annotate.config import default_quality_model

    p.add_argument("--output", "-o", default=str(default_quality_model()))
    _data_args(p)
    _train_args(p, epoch=20)  # ~2k examples per class: 5 epochs underfit (holdout accuracy 0.90 vs 0.99)
    a = p.parse_args(argv)
    from tools.quality_data import select

    sample, ext = _default_dirs(a)
    pos, neg, stats = select(sample, ext, a.max_per_class, a.data_seed)
    pos_tr, pos_te = _split(pos, 0.1, a.seed)
    neg_tr, neg_te = _split(neg, 0.1, a.seed)
    out = _train(a, pos_tr, neg_tr, Path(a.output))
    report = {"model": str(out), "bytes": out.stat().st_size, "selection": stats,
              "holdout": evaluate(out, pos_te, neg_te)}
    print(json.dumps(report, indent=2))
    return 0


COMMANDS = {"select-data": cmd_select_data, "build-default": cmd_build_default}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
