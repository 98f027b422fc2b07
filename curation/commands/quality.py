"""`curation quality`: train, evaluate and rebuild the fastText quality classifier used by `annotate`.

    curation quality train --positive P.jsonl ... --negative N.jsonl ... --output MODEL [--quantize]
    curation quality eval --model MODEL --positive ... --negative ...

Inputs: .jsonl / .jsonl.gz (field `text`, or --text-field), .parquet (column `text`), or .txt (one
document per file). The shipped default model is rebuilt with `python -m tools.quality_model build-default`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from curation.io.readers import json_lines

NAME = "quality"
HELP = "train / evaluate the fastText quality classifier (DCLM-style, label hq)"


def read_texts(paths: list[str], text_field: str = "text") -> list[str]:
    """Texts from JSONL, Parquet or plain-text files; a bad line is reported, not fatal."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise FileNotFoundError(f"input not found: {path}")
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for f in files:
            name = f.name.lower()
            if name.endswith(".parquet"):
                import pyarrow.parquet as pq

                out.extend(t for t in pq.read_table(f, columns=[text_field]).column(text_field).to_pylist() if t)
            elif name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")):
                def bad(n: int, _e: Exception, f: Path = f) -> None:
                    print(f"{f}:{n}: not a JSON object, skipped", file=sys.stderr)

                for rec in json_lines(str(f), bad):
                    t = rec.get(text_field) if isinstance(rec, dict) else None
                    if isinstance(t, str) and t.strip():
                        out.append(t)
            else:
                out.append(f.read_bytes().decode("utf-8", "replace"))
    return out


def evaluate(model: str | Path, positives: list[str], negatives: list[str], threshold: float = 0.5) -> dict:
    """Accuracy at `threshold`, ROC AUC and mean scores of a model on labelled texts."""
    import numpy as np

    from curation.text.classifier import FastTextScorer

    scorer = FastTextScorer(model)
    ps, ns = scorer.predict(positives), scorer.predict(negatives)
    ps, ns = ps[~np.isnan(ps)], ns[~np.isnan(ns)]
    scores = np.concatenate([ps, ns])
    labels = np.concatenate([np.ones(ps.size), np.zeros(ns.size)])
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(scores.size)
    ranks[order] = np.arange(1, scores.size + 1)
    auc = (ranks[labels == 1].sum() - ps.size * (ps.size + 1) / 2) / max(ps.size * ns.size, 1)
    acc = float(((scores >= threshold) == (labels == 1)).mean()) if scores.size else float("nan")
    return {"positives": int(ps.size), "negatives": int(ns.size), "accuracy": round(acc, 4), "auc": round(float(auc), 4),
            "mean_score_positive": round(float(ps.mean()), 4) if ps.size else None,
            "mean_score_negative": round(float(ns.mean()), 4) if ns.size else None}


def _train_args(p: argparse.ArgumentParser, epoch: int = 5) -> None:
    p.add_argument("--epoch", type=int, default=epoch, help=f"fastText epochs (default {epoch}; fastText's own default is 5)")
    p.add_argument("--dim", type=int, default=100, help="vector size (default 100)")
    p.add_argument("--word-ngrams", type=int, default=2, help="word n-grams (DCLM: 2)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--bucket", type=int, default=200_000, help="hash buckets for n-grams (fastText default 2,000,000)")
    p.add_argument("--quantize", action=argparse.BooleanOptionalAction, default=True,
                   help="product-quantise the model (.ftz-style, ~1-3 MB); default on")
    p.add_argument("--cutoff", type=int, default=20_000, help="rows of the input matrix kept when quantising")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", default="hq")


def _train(a: argparse.Namespace, pos: list[str], neg: list[str], output: Path) -> Path:
    from curation.text.classifier import train_fasttext

    return train_fasttext(pos, neg, output, label=a.label, word_ngrams=a.word_ngrams, epoch=a.epoch, dim=a.dim,
                          lr=a.lr, bucket=a.bucket, seed=a.seed, quantize=a.quantize,
                          cutoff=a.cutoff)


def _split(texts: list[str], holdout: float, seed: int) -> tuple[list[str], list[str]]:
    texts = list(texts)
    random.Random(seed).shuffle(texts)
    k = int(len(texts) * holdout)
    return texts[k:], texts[:k]


def cmd_train(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="curation quality train", description="Train a fastText hq-vs-cc classifier.")
    p.add_argument("--positive", nargs="+", required=True, help="files or folders of high-quality examples")
    p.add_argument("--negative", nargs="+", required=True, help="files or folders of low-quality examples")
    p.add_argument("--output", "-o", required=True, help="model file to write")
    p.add_argument("--text-field", default="text")
    p.add_argument("--holdout", type=float, default=0.1, help="share held out for the printed evaluation (0: none)")
    _train_args(p)
    a = p.parse_args(argv)
    pos, neg = read_texts(a.positive, a.text_field), read_texts(a.negative, a.text_field)
    if not pos or not neg:
        print(f"need examples of both classes (got {len(pos)} positive, {len(neg)} negative)", file=sys.stderr)
        return 2
    pos_tr, pos_te = _split(pos, a.holdout, a.seed)
    neg_tr, neg_te = _split(neg, a.holdout, a.seed)
    out = _train(a, pos_tr, neg_tr, Path(a.output))
    report = {"model": str(out), "bytes": out.stat().st_size, "train": {"positives": len(pos_tr), "negatives": len(neg_tr)}}
    if pos_te and neg_te:
        report["holdout"] = evaluate(out, pos_te, neg_te)
    print(json.dumps(report, indent=2))
    return 0


def cmd_eval(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="curation quality eval", description="Accuracy and AUC of a model on labelled texts.")
    p.add_argument("--model", required=True)
    p.add_argument("--positive", nargs="+", required=True)
    p.add_argument("--negative", nargs="+", required=True)
    p.add_argument("--text-field", default="text")
    p.add_argument("--threshold", type=float, default=0.5)
    a = p.parse_args(argv)
    print(json.dumps(evaluate(a.model, read_texts(a.positive, a.text_field), read_texts(a.negative, a.text_field),
                              a.threshold), indent=2))
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except (FileNotFoundError, ValueError) as e:
        print(f"curation quality {argv[0]}: {e}", file=sys.stderr)
        return 2
