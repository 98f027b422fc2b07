"""The lake scan end to end: footers -> schema graph -> min-max -> content -> exact check -> plan.

Everything before the exact check is driver-side and reads footers or samples only; the report counts
the candidate pairs surviving every stage, so the pruning power of each is visible. Nothing is
deleted here: the plan in the report is what `curation lake apply` acts on, after re-verifying.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from curation.lake.content import content_prune, sample_size
from curation.lake.discover import discover
from curation.lake.footers import DatasetStats, read_all
from curation.lake.minmax import minmax_prune
from curation.lake.plan import Arc, Node, plan_deletions
from curation.lake.schema_graph import class_edges, schema_classes, schema_pair_count
from curation.lake.verify import Check, verify

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REPORT_VERSION = 1
GB = 1e9


@dataclass
class ScanOptions:
    """Knobs of the scan and of the cost model (all documented in `curation lake scan --help`)."""

    foreign_frac: float = 0.01  # smallest share of foreign rows the content stage must catch ...
    miss_prob: float = 0.01  # ... with at most this probability of missing it
    sample_rows: int | None = None  # overrides the size derived from the two above
    seed: int = 0
    verify: bool = True
    verify_max_scans: int = 2000
    storage_cost_per_gb: float = 0.023  # per planning period (e.g. a month of object storage)
    scan_cost_per_gb: float = 0.005  # cost of reading a parent once to reconstruct a child
    scan_mb_per_s: float = 200.0  # reconstruction throughput, for the latency estimate
    latency_overhead_s: float = 5.0  # fixed start-up cost of one reconstruction
    access_frequency: float = 1.0  # reads per planning period, unless overridden per dataset
    latency_bound_s: float | None = None  # max reconstruction latency, unless overridden; None: any
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> {access_frequency, ...}
    ilp_max_vars: int = 20_000
    ilp_time_limit_s: float = 60.0

    @property
    def sample(self) -> int:
        return self.sample_rows if self.sample_rows is not None else sample_size(self.foreign_frac, self.miss_prob)


def _stage(name: str, pairs: int, pruned: int | None, seconds: float, **extra: Any) -> dict:
    return {"stage": name, "pairs": pairs, "pruned": pruned, "seconds": round(seconds, 4), **extra}


def _node(s: DatasetStats, o: ScanOptions) -> Node:
    ov = o.overrides.get(s.path, {})
    storage = ov.get("storage_cost", o.storage_cost_per_gb * s.bytes / GB)
    return Node(s.path, float(storage), float(ov.get("access_frequency", o.access_frequency)),
                ov.get("latency_bound_s", o.latency_bound_s))


def build_plan(stats: list[DatasetStats], edges: list[tuple[int, int]], o: ScanOptions) -> dict:
    """Plan over the verified edges, as report JSON (paths, bytes, costs)."""
    ids = sorted({i for e in edges for i in e})
    local = {g: k for k, g in enumerate(ids)}
    nodes = [_node(stats[g], o) for g in ids]
    arcs = []
    for c, p in edges:
        b = stats[p].bytes
        arcs.append(Arc(local[c], local[p], o.scan_cost_per_gb * b / GB,
                        o.latency_overhead_s + b / (o.scan_mb_per_s * 1e6)))
    plan = plan_deletions(nodes, arcs, o.ilp_max_vars, o.ilp_time_limit_s)
    arc_of = {(a.child, a.parent): a for a in arcs}
    deletions = []
    for c, p in sorted(plan.assignment.items(), key=lambda cp: nodes[cp[0]].name):
        sc, sp, a = stats[ids[c]], stats[ids[p]], arc_of[(c, p)]
        deletions.append({
            "delete": sc.path, "parent": sp.path, "bytes": sc.bytes, "rows": sc.rows,
            "columns": list(sc.schema), "storage_cost": nodes[c].storage_cost,
            "access_frequency": nodes[c].frequency, "reconstruction_cost": a.recon_cost,
            "latency_s": round(a.latency, 3), "latency_bound_s": nodes[c].latency_bound,
            "child_snapshot": sc.snapshot, "parent_snapshot": sp.snapshot,
        })
    cost_before = sum(n.storage_cost for n in nodes)
    return {"solver": plan.solver, "datasets_in_graph": len(nodes), "deletions": deletions,
            "bytes_saved": sum(d["bytes"] for d in deletions), "cost_before": cost_before,
            "cost_after": plan.cost, "cost_saved": cost_before - plan.cost}


def scan_stats(stats: list[DatasetStats], spark: SparkSession | None, o: ScanOptions | None = None) -> dict:
    """Run every stage over already-read footer statistics; returns the report dict."""
    o = o or ScanOptions()
    stages = []
    t = time.perf_counter()
    classes = schema_classes(stats)
    cpairs = class_edges(classes)
    n_schema = schema_pair_count(classes, cpairs)
    stages.append(_stage("schema", n_schema, None, time.perf_counter() - t, schema_classes=len(classes),
                         class_edges=len(cpairs)))
    t = time.perf_counter()
    mm = minmax_prune(stats, classes, cpairs)
    stages.append(_stage("minmax", len(mm.pairs), n_schema - len(mm.pairs), time.perf_counter() - t,
                         pruned_by=dict(sorted(mm.pruned.items()))))
    t = time.perf_counter()
    cp = content_prune(stats, mm.pairs, o.sample, o.seed)
    stages.append(_stage("content", len(cp.pairs), cp.pruned, time.perf_counter() - t, sample_rows=o.sample,
                         unreadable=len(cp.errors)))
    edges: list[dict] = []
    unverified: list[dict] = []
    verified_pairs: list[tuple[int, int]] = []
    if o.verify and spark is not None:
        t = time.perf_counter()
        checks = [Check(stats[c].files, stats[p].files, sorted(stats[c].schema), stats[c].arrow_schema)
                  for c, p in cp.pairs]
        outcomes = verify(spark, checks, o.verify_max_scans)
        for (c, p), res in zip(cp.pairs, outcomes, strict=True):
            if res.contained:
                verified_pairs.append((c, p))
            else:
                unverified.append({"contained": stats[c].path, "container": stats[p].path,
                                   "missing_rows": res.missing, "error": res.error})
        stages.append(_stage("verified", len(verified_pairs), len(cp.pairs) - len(verified_pairs),
                             time.perf_counter() - t, errors=sum(1 for u in unverified if u["error"])))
    else:
        stages.append(_stage("verified", 0, None, 0.0, skipped=True))
    vset = set(verified_pairs)
    for c, p in verified_pairs:
        sc, sp = stats[c], stats[p]
        edges.append({
            "contained": sc.path, "container": sp.path,
            "relation": "duplicate" if (p, c) in vset else "subset",
            "columns": len(sc.schema), "container_columns": len(sp.schema),
            "projection": len(sc.schema) < len(sp.schema),
            "rows": sc.rows, "container_rows": sp.rows, "bytes": sc.bytes, "container_bytes": sp.bytes,
            "evidence": {
                "schema": "subset" if len(sc.schema) < len(sp.schema) else "identical",
                "minmax": {"columns_with_bounds": sum(1 for k in sc.schema if sc.columns[k].has_bounds
                                                      and sp.columns.get(k) is not None
                                                      and sp.columns[k].has_bounds)},
                "content": cp.evidence.get((c, p), {}),
                "exact": {"method": "spark left_anti join, null-safe equality on all contained columns",
                          "missing_rows": 0},
            },
        })
    t = time.perf_counter()
    plan = build_plan(stats, verified_pairs, o)
    plan["seconds"] = round(time.perf_counter() - t, 4)
    return {
        "version": REPORT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "datasets": sum(1 for s in stats if not s.error),
        "skipped": [{"path": s.path, "error": s.error} for s in stats if s.error],
        "bytes": sum(s.bytes for s in stats if not s.error),
        "stages": stages,
        "edges": edges,
        "rejected_after_content": unverified,
        "plan": plan,
        "options": {k: v for k, v in asdict(o).items() if k != "overrides"},
    }


def scan(paths: list[str], spark: SparkSession | None, o: ScanOptions | None = None) -> dict:
    """Discover datasets under `paths`, read their footers and run the scan."""
    t = time.perf_counter()
    datasets = discover(paths)
    stats = read_all(datasets)
    footer_s = time.perf_counter() - t
    report = scan_stats(stats, spark, o)
    report["inputs"] = list(paths)
    report["stages"].insert(0, _stage("footers", None, None, footer_s, datasets=len(stats),
                                      unreadable=len(report["skipped"])))
    return report
