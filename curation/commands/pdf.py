"""`curation pdf parse FILE...`: route and parse PDF files here, without Spark (one JSON line per PDF).

Training the router (data, training, preference alignment) is development tooling: `python -m tools.pdf_router`.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "pdf"
HELP = "PDF parser router: parse"


def _parse(argv: list[str]) -> int:
    from curation.config import ConfigError, apply_overrides, build_section
    from curation.stages.ingest.pdf.config import PdfConfig
    from curation.stages.ingest.pdf.pipeline import parse_pdfs

    p = argparse.ArgumentParser(prog="curation pdf parse", description="Route and parse PDF files here (no Spark); "
                                "prints one JSON line per PDF.")
    p.add_argument("files", nargs="+")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE", help="PdfConfig key, e.g. alpha=0.2")
    p.add_argument("--text", action="store_true", help="include the text")
    a = p.parse_args(argv)
    try:
        cfg = build_section(PdfConfig, apply_overrides({}, a.set), "ingest.pdf")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = parse_pdfs([{"source": f, "source_id": f, "path": f} for f in a.files], cfg)
    for r in rows:
        out = {k: v for k, v in r.items() if k != "text" or a.text}
        out["crawl_date"] = str(out.get("crawl_date")) if out.get("crawl_date") else None
        if out.get("pdf_pages_json"):
            out["pdf_pages_json"] = json.loads(out["pdf_pages_json"])
        print(json.dumps(out, ensure_ascii=False))
    return 0


SUBCOMMANDS = {"parse": _parse}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        print(f"usage: curation pdf {{{','.join(SUBCOMMANDS)}}} ...\n\n{HELP}", file=sys.stderr if argv else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return int(SUBCOMMANDS[argv[0]](argv[1:]) or 0)
