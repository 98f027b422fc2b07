"""The PDF router's training tools: training data, training, preference alignment, degraded PDFs.

    .venv/bin/python -m tools.pdf_router {make-training-data,train-router,align,degrade} ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "PDF parser router: make-training-data, train-router, align, degrade"

DEFAULT_ROWS = "data/pdf_router/train_pages.jsonl"


def _make_training_data(argv: list[str]) -> int:
    from tools.pdf.trainset import (
        HELDOUT,
        build_synth_rows,
        build_training_rows,
        refeature_rows,
    )

    p = argparse.ArgumentParser(prog="python -m tools.pdf_router make-training-data",
                                description="Degraded variants of born-digital PDFs with known text, every page "
                                            "parsed by every parser and scored (slow: OCR of every page).")
    p.add_argument("--pdf-dir", required=True, help="folder with files/*.pdf and reference_text_pdftotext/*.txt")
    p.add_argument("--out", default=DEFAULT_ROWS)
    p.add_argument("--pages-per-pdf", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--include-heldout", action="store_true", help=f"also use the benchmark's PDFs ({', '.join(HELDOUT)})")
    p.add_argument("--synth-texts", type=int, default=177,
                   help="also typeset this many training-split texts of sample_data/jsonl/documents.jsonl "
                        "(exact truth, synth.py; 177 = all of them), one degraded kind each (0: none)")
    p.add_argument("--synth-append-from", type=int, default=None, metavar="N",
                   help="only measure typeset texts N.. and append them to --out (which already holds the rows of "
                        "a run with --synth-texts N); nothing else is measured")
    p.add_argument("--synth-pages", type=int, default=2, help="max pages per typeset document")
    p.add_argument("--refeature", default=None, metavar="ROWS",
                   help="instead of measuring the real PDFs again, copy ROWS (same --pdf-dir/--pages-per-pdf/--seed) "
                        "with recomputed features; scores and OCR timings are kept (minutes instead of most of an hour)")
    a = p.parse_args(argv)
    exclude = () if a.include_heldout else HELDOUT

    def log(m: str) -> None:
        print(m, file=sys.stderr)

    if a.synth_append_from is not None:
        n = build_synth_rows(a.out, a.synth_texts, a.synth_pages, a.seed, heldout=exclude, log=log,
                             skip=a.synth_append_from)
        print(f"appended {n} page rows to {a.out}")
        return 0
    if a.refeature:
        n = refeature_rows(a.pdf_dir, a.refeature, a.out, a.pages_per_pdf, a.seed, exclude=exclude,
                           synth_texts=a.synth_texts, synth_pages=a.synth_pages, log=log)
    else:
        n = build_training_rows(a.pdf_dir, a.out, a.pages_per_pdf, a.seed, exclude=exclude, log=log)
        if a.synth_texts > 0:
            n += build_synth_rows(a.out, a.synth_texts, a.synth_pages, a.seed, heldout=exclude, log=log)
    print(f"wrote {n} page rows to {a.out}")
    return 0


def _train(argv: list[str]) -> int:
    from curation.stages.ingest.pdf.predictor import default_model
    from tools.pdf.train import train_router

    p = argparse.ArgumentParser(prog="python -m tools.pdf_router train-router", description="Fit the accuracy predictor; write the model.")
    p.add_argument("--data", default=DEFAULT_ROWS, help="page rows from make-training-data")
    p.add_argument("--out", default=str(default_model()))
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--epochs", type=int, default=1500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cv", action="store_true", help="skip leave-PDFs-out cross-validation")
    p.add_argument("--cost-only", action="store_true",
                   help="fit only the expensive parser's per-page cost model (from the rows' measured seconds) and "
                        "store it in the existing model file --out; the accuracy predictor is left as it is")
    a = p.parse_args(argv)
    if not Path(a.data).exists():
        print(f"error: training data not found: {a.data} (make it with `python -m tools.pdf_router make-training-data`)", file=sys.stderr)
        return 2
    if a.cost_only:
        from tools.pdf.train import attach_cost_model

        if not Path(a.out).exists():
            print(f"error: model file not found: {a.out} (--cost-only adds to an existing model)", file=sys.stderr)
            return 2
        try:
            report = attach_cost_model(a.out, a.data)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(json.dumps({"expensive_cost": report}, indent=1))
        print(f"cost model written to {a.out}")
        return 0
    _, report = train_router(a.data, a.out, hidden=a.hidden, epochs=a.epochs, seed=a.seed, cv=not a.no_cv)
    print(json.dumps(report, indent=1))
    print(f"model written to {a.out}")
    return 0


def _align(argv: list[str]) -> int:
    import numpy as np

    from curation.stages.ingest.pdf.predictor import RouterModel, default_model
    from curation.stages.ingest.pdf.preferences import (
        AlignSettings,
        align,
        preference_features,
        read_preferences,
        resolve_pdfs,
    )
    from tools.pdf.train import load_rows, matrices

    p = argparse.ArgumentParser(prog="python -m tools.pdf_router align",
                                description="Update the router from human parser preferences (Bradley-Terry + anchors).")
    p.add_argument("--preferences", required=True, help="JSONL file, format in curation/stages/ingest/pdf/preferences.py")
    p.add_argument("--pdf", nargs="+", default=[], help="PDF files or folders to find the judged documents in")
    p.add_argument("--model", default=str(default_model()), help="model to start from")
    p.add_argument("--out", required=True, help="where to write the aligned model")
    p.add_argument("--training-data", default=None, help="regression rows to keep fitting (AdaParse step 3)")
    for k, v in vars(AlignSettings()).items():
        p.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
    a = p.parse_args(argv)
    prefs, problems = read_preferences(a.preferences)
    model = RouterModel.from_dict(json.loads(Path(a.model).read_text()))
    usable = [q for q in prefs if q.parser_a in model.parsers and q.parser_b in model.parsers]
    skipped = len(prefs) - len(usable)
    paths = resolve_pdfs({q.pdf for q in usable}, a.pdf)
    keep, feats, more = preference_features(usable, paths)
    problems += more
    for line in problems[:20]:
        print(f"skipped: {line}", file=sys.stderr)
    if skipped:
        print(f"skipped: {skipped} preference(s) between parsers the model has no output for", file=sys.stderr)
    if not keep:
        print("error: no usable preferences", file=sys.stderr)
        return 2
    used = [usable[i] for i in keep]
    X = np.array(feats)
    ia = np.array([model.parsers.index(q.parser_a) for q in used])
    ib = np.array([model.parsers.index(q.parser_b) for q in used])
    pref = np.array([{"a": 0, "b": 1, "neither": 2}[q.preferred] for q in used])
    X_reg = Y_reg = None
    if a.training_data:
        X_reg, Y_reg, _ = matrices(load_rows(a.training_data), tuple(model.parsers))
    settings = AlignSettings(**{k: getattr(a, k) for k in vars(AlignSettings())})
    aligned, report = align(model, X, ia, ib, pref, settings, X_reg, Y_reg)
    aligned.save(a.out)
    print(json.dumps(report, indent=1))
    print(f"aligned model written to {a.out}")
    return 0


def _degrade(argv: list[str]) -> int:
    from curation.stages.ingest.pdf.parsers import PARSERS
    from tools.pdf.degrade import KINDS, make_variant, mixed_pdf

    p = argparse.ArgumentParser(prog="python -m tools.pdf_router degrade", description="Write a degraded variant of a PDF.")
    p.add_argument("pdf")
    p.add_argument("--kind", choices=[*KINDS, "mixed"], required=True)
    p.add_argument("--pages", default=None, help="1-based pages, e.g. 1,2,5 (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    data = Path(a.pdf).read_bytes()
    truths = PARSERS["pdfium"].parse(data)
    pages = [int(x) for x in a.pages.split(",")] if a.pages else list(range(1, len(truths) + 1))
    sel = [truths[i - 1] for i in pages]
    out = mixed_pdf(data, pages, sel, a.seed) if a.kind == "mixed" else make_variant(data, a.kind, pages, sel, a.seed)
    Path(a.out).write_bytes(out)
    print(f"wrote {a.out} ({len(out)} bytes, {len(pages)} pages, kind {a.kind})")
    return 0


SUBCOMMANDS = {
    "make-training-data": _make_training_data,
    "train-router": _train,
    "align": _align,
    "degrade": _degrade,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        print(f"usage: python -m tools.pdf_router {{{','.join(SUBCOMMANDS)}}} ...\n\n{HELP}", file=sys.stderr if argv else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return int(SUBCOMMANDS[argv[0]](argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
