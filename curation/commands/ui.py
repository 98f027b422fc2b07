"""`curation ui DIR...`: serve the data-quality web UI over one or more run folders."""

from __future__ import annotations

import argparse
import os
import sys

NAME = "ui"
HELP = "serve the data-quality web UI over run folders (funnel, drops, duplicates, PDF A/B labels, what-if)"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="curation ui", description=HELP)
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run folders, or folders whose children are run folders")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; anything else requires a token to write labels)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--token", default=os.environ.get("CURATION_UI_TOKEN"),
                   help="token needed to write labels (default $CURATION_UI_TOKEN; generated when binding "
                        "a non-loopback address without one)")
    p.add_argument("--data-root", action="append", default=[], metavar="DIR",
                   help="extra folder the UI may read source PDFs from (repeatable; the runs' inputs are allowed)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    import uvicorn

    from curation.ui.app import LOOPBACK, create_app, new_token

    loopback = a.host in LOOPBACK
    token = a.token
    if not loopback and not token:
        token = new_token()
        print(f"curation ui: bound to {a.host}; label writes need this token: {token}", file=sys.stderr)
    try:
        app = create_app(a.dirs, token=token, loopback_only=loopback, data_roots=a.data_root)
    except (FileNotFoundError, ValueError) as e:
        print(f"curation ui: {e}", file=sys.stderr)
        return 2
    print(f"curation ui: serving {len(app.state.ui.runs)} run(s) on http://{a.host}:{a.port}/", file=sys.stderr)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0
