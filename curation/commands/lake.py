"""`curation lake`: find Parquet datasets contained in others (R2D2) and delete them safely.

    curation lake scan PATH... --output DIR      report.json (edges, per-stage pruning, deletion plan) + table
    curation lake apply PLAN [--dry-run]         re-verify, write a recipe, then delete each planned dataset
    curation lake reconstruct RECIPE [--output]  rebuild a deleted dataset from its parent
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from typing import Any

NAME = "lake"
HELP = "containment between Parquet datasets, a cost-optimal deletion plan, safe apply and reconstruct"


def _spark(config: str | None, sets: list[str]) -> Any:
    from curation.config import load_config
    from curation.engine.spark import get_spark

    return get_spark(load_config(config, sets).spark)


def _load_costs(path: str) -> dict[str, dict[str, Any]]:
    """Per-dataset overrides: JSON {path: {...}} or CSV with a `path` column; keys access_frequency,
    latency_bound_s, storage_cost."""
    keys = {"access_frequency", "latency_bound_s", "storage_cost"}
    if path.lower().endswith(".csv"):
        with open(path, newline="") as fh:
            rows = {r.pop("path"): r for r in csv.DictReader(fh)}
    else:
        rows = json.loads(open(path).read())
    out = {}
    for p, vals in rows.items():
        unknown = set(vals) - keys
        if unknown:
            raise ValueError(f"{path}: unknown cost key(s) {sorted(unknown)} for {p} (known: {sorted(keys)})")
        out[os.path.abspath(p)] = {k: (float(v) if v not in ("", None) else None) for k, v in vals.items()}
    return out


def _table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _short(path: str, base: str) -> str:
    try:
        rel = os.path.relpath(path, base)
        return rel if not rel.startswith("..") else path
    except ValueError:
        return path


def render(report: dict, max_rows: int = 40) -> str:
    """The stdout table: pairs surviving each stage, containment edges, the plan."""
    inputs = [os.path.abspath(e) for e in report.get("inputs", []) if "://" not in e and not any(c in e for c in "*?[")]
    base = os.path.commonpath(inputs) if inputs else "/"
    stages = []
    for s in report["stages"]:
        extra = s.get("pruned_by") or {k: v for k, v in s.items()
                                         if k not in ("stage", "pairs", "pruned", "seconds") and v}
        stages.append([s["stage"], s["pairs"] if s.get("pairs") is not None else "-",
                       s["pruned"] if s.get("pruned") is not None else "-", f"{s['seconds']:.2f}",
                       ", ".join(f"{k}={v}" for k, v in extra.items())])
    out = [f"{report['datasets']} datasets, {report['bytes']:,} bytes, {len(report['skipped'])} unreadable",
           "", _table(stages, ["stage", "pairs", "pruned", "seconds", "detail"]), ""]
    edges = report["edges"]
    rows = [[_short(e["contained"], base), _short(e["container"], base), e["relation"],
             "yes" if e["projection"] else "no", e["rows"], e["container_rows"]] for e in edges[:max_rows]]
    out.append(f"{len(edges)} verified containment edges" + (f" (first {max_rows})" if len(edges) > max_rows else ""))
    if rows:
        out.append(_table(rows, ["contained", "container", "relation", "projection", "rows", "container rows"]))
    plan = report["plan"]
    out += ["", f"plan ({plan['solver']}): delete {len(plan['deletions'])} datasets, save {plan['bytes_saved']:,} "
                f"bytes; cost {plan['cost_before']:.6g} -> {plan['cost_after']:.6g} per period"]
    rows = [[_short(d["delete"], base), _short(d["parent"], base), f"{d['bytes']:,}", f"{d['latency_s']:.1f}"]
            for d in plan["deletions"][:max_rows]]
    if rows:
        out.append(_table(rows, ["delete", "reconstruct from", "bytes", "latency s"]))
    if report["skipped"]:
        out += ["", "unreadable datasets (left out):"] + [f"  {s['path']}: {s['error']}" for s in report["skipped"]]
    return "\n".join(out)


def cmd_scan(argv: list[str]) -> int:
    from curation.lake.scan import ScanOptions, scan

    p = argparse.ArgumentParser(prog="curation lake scan", description="Find containment between Parquet datasets "
                                "(folders or globs of Parquet files) and plan deletions. Deletes nothing.")
    p.add_argument("paths", nargs="+", help="lake folders, dataset folders, Parquet files or globs")
    p.add_argument("--output", "-o", required=True, help="folder for report.json")
    p.add_argument("--foreign-frac", type=float, default=0.01, help="content stage: smallest foreign-row share to catch")
    p.add_argument("--miss-prob", type=float, default=0.01, help="content stage: allowed chance of missing it")
    p.add_argument("--sample-rows", type=int, help="content stage sample size (default: from the two above; 459)")
    p.add_argument("--no-verify", action="store_true", help="skip the exact Spark check (then no edge is reported)")
    p.add_argument("--costs", help="per-dataset overrides, JSON {path: {access_frequency, latency_bound_s, "
                                   "storage_cost}} or CSV with a path column")
    p.add_argument("--storage-cost-per-gb", type=float, default=0.023, help="storage cost per GB per period")
    p.add_argument("--scan-cost-per-gb", type=float, default=0.005, help="cost per GB read to reconstruct")
    p.add_argument("--scan-mb-per-s", type=float, default=200.0, help="reconstruction throughput (latency estimate)")
    p.add_argument("--access-frequency", type=float, default=1.0, help="reads per period of each dataset")
    p.add_argument("--latency-bound-s", type=float, help="max reconstruction latency (default: none)")
    p.add_argument("--max-rows", type=int, default=40, help="rows of the printed edge and plan tables")
    p.add_argument("--config", "-c", help="YAML config (its spark section is used)")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE")
    a = p.parse_args(argv)
    o = ScanOptions(foreign_frac=a.foreign_frac, miss_prob=a.miss_prob, sample_rows=a.sample_rows,
                    verify=not a.no_verify, storage_cost_per_gb=a.storage_cost_per_gb,
                    scan_cost_per_gb=a.scan_cost_per_gb, scan_mb_per_s=a.scan_mb_per_s,
                    access_frequency=a.access_frequency, latency_bound_s=a.latency_bound_s,
                    overrides=_load_costs(a.costs) if a.costs else {})
    _ = o.sample  # validates foreign_frac / miss_prob before anything starts
    spark = None if a.no_verify else _spark(a.config, a.set)
    report = scan(a.paths, spark, o)
    os.makedirs(a.output, exist_ok=True)
    path = os.path.join(a.output, "report.json")
    with open(path + ".tmp", "w") as fh:
        json.dump(report, fh, indent=1, default=str)
    os.replace(path + ".tmp", path)
    print(render(report, a.max_rows))
    print(f"\nreport: {path}")
    return 0


def _load_plan(path: str) -> tuple[dict, str]:
    if os.path.isdir(path):
        path = os.path.join(path, "report.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such plan (give report.json or the scan's output folder)")
    report = json.loads(open(path).read())
    if "plan" not in report or "deletions" not in report["plan"]:
        raise ValueError(f"{path}: not a lake scan report (no plan.deletions)")
    return report, os.path.dirname(os.path.abspath(path))


def cmd_apply(argv: list[str]) -> int:
    from curation.lake.recipe import apply_plan

    p = argparse.ArgumentParser(prog="curation lake apply", description="Delete the datasets a scan planned to "
                                "delete, each only after re-verifying it and writing its reconstruction recipe.")
    p.add_argument("plan", help="report.json of `curation lake scan` (or its folder)")
    p.add_argument("--recipes", help="folder for recipes (default: recipes/ next to the plan)")
    p.add_argument("--dry-run", action="store_true", help="re-verify and write recipes, delete nothing")
    p.add_argument("--config", "-c", help="YAML config (its spark section is used)")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE")
    a = p.parse_args(argv)
    report, base = _load_plan(a.plan)
    recipes = a.recipes or os.path.join(base, "recipes")
    results = apply_plan(_spark(a.config, a.set), report, recipes, dry_run=a.dry_run)
    log = os.path.join(base, "apply.json")
    with open(log, "w") as fh:
        json.dump(results, fh, indent=1)
    rows = [[r["delete"], r["status"], r.get("recipe") or r.get("error", "")] for r in results]
    print(_table(rows, ["dataset", "status", "recipe / reason"]) if rows else "nothing to delete")
    done = [r for r in results if r["status"] in ("deleted", "verified")]
    print(f"\n{len(done)}/{len(results)} {'verified' if a.dry_run else 'deleted'}, "
          f"{sum(r['bytes'] for r in done):,} bytes; log: {log}")
    return 0 if len(done) == len(results) else 1


def cmd_reconstruct(argv: list[str]) -> int:
    from curation.lake.recipe import reconstruct

    p = argparse.ArgumentParser(prog="curation lake reconstruct", description="Rebuild a deleted dataset from its "
                                "parent using the recipe `curation lake apply` wrote.")
    p.add_argument("recipe", help="recipe.json (or its folder)")
    p.add_argument("--output", "-o", help="folder to write into (default: the dataset's original place)")
    p.add_argument("--config", "-c", help="YAML config (its spark section is used)")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE")
    a = p.parse_args(argv)
    path = os.path.join(a.recipe, "recipe.json") if os.path.isdir(a.recipe) else a.recipe
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such recipe")
    info = reconstruct(_spark(a.config, a.set), path, a.output)
    print(f"rebuilt {info['dataset']}: {info['files']} files, {info['rows']} rows (digests match)")
    return 0


def main(argv: list[str]) -> int:
    cmds = {"scan": cmd_scan, "apply": cmd_apply, "reconstruct": cmd_reconstruct}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in cmds:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    from curation.lake.recipe import ApplyError

    try:
        return cmds[argv[0]](argv[1:])
    except ApplyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
