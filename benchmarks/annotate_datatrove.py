"""Peer side of benchmarks/annotate.py: datatrove's filters on the same documents (run in datatrove's venv).

    .bench/datatrove-venv/bin/python benchmarks/annotate_datatrove.py DOCS.jsonl OUT.json --lid-model lid.176.ftz

For each filter, every document is filtered on its own (a fresh Document, since C4QualityFilter rewrites
the text) and timed with process CPU time; writes {filter: {"cpu_s", "wall_s", "keep": [...], "reason": [...]}}.
LanguageFilter normally downloads lid.176.bin; here it gets the same lid.176.ftz the curation stage uses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("docs")
    ap.add_argument("out")
    ap.add_argument("--lid-model", required=True)
    ap.add_argument("--filters", default="language,gopher_repetition,gopher_quality,c4,fineweb")
    a = ap.parse_args(argv)
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from fasttext.FastText import _FastText

    docs = [json.loads(line) for line in open(a.docs, encoding="utf-8")]
    lang = LanguageFilter(languages=["en"], language_threshold=0.65)
    lang.model._model = _FastText(a.lid_model)
    filters = {
        "language": lang,
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4": C4QualityFilter(),
        "fineweb": FineWebQualityFilter(),
    }
    # warm-up (spaCy tokenizer construction, model load) outside the timing
    for f in filters.values():
        f.filter(Document(text="Warm up text. It has two sentences.", id="warm"))
    out = {}
    for name in a.filters.split(","):
        f = filters[name]
        keep, reason = [], []
        c0, w0 = time.process_time(), time.perf_counter()
        for d in docs:
            try:
                r = f.filter(Document(text=d["text"], id=d["id"]))
            except Exception as e:  # noqa: BLE001 - a peer crash is a result to report
                r = (False, f"error:{type(e).__name__}")
            ok = r is True or (isinstance(r, tuple) and r[0]) or (r is not False and not isinstance(r, tuple))
            keep.append(bool(ok))
            reason.append(None if ok else (r[1] if isinstance(r, tuple) else "filtered"))
        out[name] = {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0, "keep": keep, "reason": reason}
        print(f"datatrove {name}: {len(docs) / max(out[name]['cpu_s'], 1e-9):.1f} docs/CPU-s", file=sys.stderr)
    with open(a.out, "w") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
