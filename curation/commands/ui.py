"""`curation ui DIR...`: serve the data-quality web UI over one or more run folders.

Bound to loopback (the default) reading needs no token. Bound anywhere else, or with --require-token,
every request needs the token; when none is given a random one is generated and printed with the
address to open. There is no default token, and one shorter than 16 characters is refused.
"""

from __future__ import annotations

import argparse
import os
import sys

NAME = "ui"
HELP = "serve the data-quality web UI over run folders (funnel, drops, duplicates, PDF A/B labels, what-if)"


def _env_list(name: str) -> list[str]:
    return [h.strip() for h in os.environ.get(name, "").split(",") if h.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="curation ui", description=HELP)
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run folders, or folders whose children are run folders")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; any other address makes every request need the token)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--token", default=os.environ.get("CURATION_UI_TOKEN") or None,
                   help="access token, at least 16 characters (default $CURATION_UI_TOKEN; a random one is "
                        "generated and printed when the server needs one and none is given)")
    p.add_argument("--require-token", action="store_true",
                   help="need the token for every request even on loopback (a machine shared with other users)")
    p.add_argument("--allowed-host", action="append", default=_env_list("CURATION_UI_ALLOWED_HOSTS"),
                   metavar="NAME", help="a host name clients use to reach the UI, besides loopback names and the "
                                        "bound address (repeatable; default $CURATION_UI_ALLOWED_HOSTS, comma-separated)")
    p.add_argument("--data-root", action="append", default=[], metavar="DIR",
                   help="extra folder the UI may read source PDFs from (repeatable; the runs' inputs are allowed)")
    p.add_argument("--pdf-memory-mb", type=int, default=1024, metavar="MIB",
                   help="address-space limit of the child process that parses and renders one PDF page (MiB)")
    p.add_argument("--pdf-seconds", type=int, default=20, metavar="SECONDS",
                   help="CPU-time limit of that child; it is killed after 1.5 times this in wall-clock time")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    import uvicorn

    from curation.ui.app import create_app, new_token
    from curation.ui.sandbox import Limits
    from curation.ui.security import WILDCARD, check_token, host_name, is_loopback

    try:
        check_token(a.token)
    except ValueError as e:
        print(f"curation ui: {e}", file=sys.stderr)
        return 2
    public = a.require_token or not is_loopback(a.host)
    token = a.token
    shown = f"[{a.host}]" if ":" in a.host else a.host
    if public and not token:
        token = new_token()
        print(f"curation ui: every request needs a token; open http://{shown}:{a.port}/?token={token}",
              file=sys.stderr, flush=True)
    limits = Limits(memory_mb=a.pdf_memory_mb, cpu_s=a.pdf_seconds, wall_s=1.5 * a.pdf_seconds)
    try:
        app = create_app(a.dirs, token=token, data_roots=a.data_root, host=a.host, public=public,
                         allowed_hosts=a.allowed_host, pdf_limits=limits)
    except (FileNotFoundError, ValueError) as e:
        print(f"curation ui: {e}", file=sys.stderr)
        return 2
    if host_name(a.host) in WILDCARD:
        names = ", ".join(sorted(app.state.policy.hosts))
        print(f"curation ui: bound to every interface; requests must name one of: {names} "
              "(add the names clients use with --allowed-host)", file=sys.stderr)
    print(f"curation ui: serving {len(app.state.ui.runs)} run(s) on http://{shown}:{a.port}/", file=sys.stderr,
          flush=True)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0
