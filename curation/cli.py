"""The `curation` command line.

    curation run CONFIG.yaml [--input ...] [--output DIR] [--set key=value ...]
    curation STAGE --input PATH... --output DIR [--config CONFIG.yaml] [--set key=value ...]
    curation STAGE SUBCOMMAND ...        (stage tools, e.g. `curation select plan`)
    curation inspect DIR [--json]
    curation config                      (every config key with its default)
    curation COMMAND ...                 (ui, lake, quality, pdf, ...)
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from typing import Any

from curation.config import ConfigError, describe, load_config


def _import(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="YAML config file")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set dedup.threshold=0.8 (repeatable)")
    p.add_argument("--verbose", "-v", action="store_true")


def cmd_run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="curation run", description="Run the configured pipeline.")
    p.add_argument("config", nargs="?", help="YAML config file (default: the embedded defaults, `curation config`)")
    p.add_argument("--input", "-i", nargs="+", help="override input.paths")
    p.add_argument("--output", "-o", help="override output.dir")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--from", dest="from_stage", metavar="STAGE",
                   help="rerun from this stage even if it finished (a changed config reruns from the first changed stage anyway)")
    p.add_argument("--verbose", "-v", action="store_true")
    a = p.parse_args(argv)
    _logging(a.verbose)
    from curation.engine.runner import run_pipeline
    from curation.io.manifest import funnel_table

    cfg = load_config(a.config, a.set)
    manifest = run_pipeline(cfg, inputs=a.input, out_dir=a.output, from_stage=a.from_stage)
    print(funnel_table(manifest))
    return 0


def cmd_stage(name: str, argv: list[str]) -> int:
    from curation.stages import get_stage

    stage_cls = get_stage(name)
    if argv and argv[0] in stage_cls.commands:
        return int(_import(stage_cls.commands[argv[0]])(argv[1:]) or 0)
    p = argparse.ArgumentParser(prog=f"curation {name}", description=(stage_cls.__doc__ or "").strip()
                                or (sys.modules[stage_cls.__module__].__doc__ or "").strip())
    p.add_argument("--input", "-i", nargs="+", required=True, help="input files, folders or globs")
    p.add_argument("--output", "-o", required=True, help="output run folder")
    for flag, key in stage_cls.cli_options.items():
        p.add_argument(flag, dest=key.replace(".", "__"), help=f"sets {key}")
    _common(p)
    if stage_cls.commands:
        p.epilog = "sub-commands: " + ", ".join(stage_cls.commands)
    a = p.parse_args(argv)
    _logging(a.verbose)
    overrides = list(a.set)
    for key in stage_cls.cli_options.values():
        v = getattr(a, key.replace(".", "__"))
        if v is not None:
            overrides.append(f"{key}={v}")
    from curation.engine.runner import run_pipeline
    from curation.io.manifest import funnel_table

    cfg = load_config(a.config, overrides)
    manifest = run_pipeline(cfg, stages=[name], inputs=a.input, out_dir=a.output)
    print(funnel_table(manifest))
    return 0


def cmd_inspect(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="curation inspect", description="Print a run's funnel.")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    a = p.parse_args(argv)
    from curation.io.manifest import Manifest, funnel_problems, funnel_table

    m = Manifest.load(a.dir)
    if m is None:
        print(f"no manifest.json in {a.dir}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(m.data, indent=2))
        return 0
    print(funnel_table(m.data))
    for st in m.data.get("stages", []):
        if st.get("reasons"):
            print(f"\n{st['name']}: " + ", ".join(f"{k} {v['decision']} {v['docs']}" for k, v in st["reasons"].items()))
        if st.get("status") == "failed":
            print(f"\n{st['name']}: FAILED at {st.get('failed_at')}: {st.get('error')}", file=sys.stderr)
    problems = funnel_problems(m.data)
    for p in problems:
        print(f"accounting error: {p}", file=sys.stderr)
    return 1 if problems or any(st.get("status") == "failed" for st in m.data.get("stages", [])) else 0


def cmd_config(argv: list[str]) -> int:
    print(describe())
    return 0


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def usage() -> str:
    from curation.commands import commands
    from curation.stages import names

    stages = ", ".join(names())
    cmds = ", ".join(sorted(commands()))
    return (__doc__ or "") + f"\nstages: {stages}\ncommands: {cmds}\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    head, rest = argv[0], argv[1:]
    try:
        if head == "run":
            return cmd_run(rest)
        if head == "inspect":
            return cmd_inspect(rest)
        if head == "config":
            return cmd_config(rest)
        from curation.commands import commands
        from curation.stages import names

        if head in names():
            return cmd_stage(head, rest)
        if head in commands():
            return int(commands()[head].main(rest) or 0)
        print(f"unknown command {head!r}\n" + usage(), file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
