"""`curation corpus show CORPUS` and `curation corpus gc CORPUS [--dry-run]`: a corpus curated batch by batch.

`show` prints the committed version (batches, documents, tokens); `gc` removes what no committed version
references (run folders and dedup-index batches of batches that died before their commit), under the corpus
lock. Design: docs/DESIGN.md#corpus-commits.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "corpus"
HELP = "a corpus curated batch by batch: show, gc"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="curation corpus", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    show = sub.add_parser("show", help="the committed version")
    show.add_argument("corpus")
    g = sub.add_parser("gc", help="remove what dead batches left")
    g.add_argument("corpus")
    g.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    a = p.parse_args(argv)
    from curation.io.corpus import committed, gc

    if a.cmd == "show":
        state = committed(a.corpus)
        print(json.dumps({k: state.get(k) for k in ("version", "updated_at", "docs", "tokens")} |
                         {"batches": len(state["batches"]), "index_batches": len(state["index_batches"]),
                          "processed_files": len(state["processed"])}, indent=2))
        return 0
    removed = gc(a.corpus, dry_run=a.dry_run)
    for d in removed:
        print(("would remove " if a.dry_run else "removed ") + d)
    print(f"{len(removed)} folders {'to remove' if a.dry_run else 'removed'}", file=sys.stderr)
    return 0
