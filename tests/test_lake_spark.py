"""Lake scan end to end on Spark: exact verification on the planted lake, apply and reconstruct."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.commands import lake as lake_cmd
from curation.lake.scan import ScanOptions, scan
from tools.planted_lake import make_lake, true_containments

pytestmark = pytest.mark.spark


@pytest.fixture
def cli(spark, monkeypatch):
    """The `curation lake` command with the test session (no second session, no conf changes)."""
    monkeypatch.setattr(lake_cmd, "_spark", lambda config, sets: spark)
    return lake_cmd.main


@pytest.mark.heavy
def test_planted_lake_exact(spark, tmp_path, capsys):
    paths = make_lake(str(tmp_path), families=20, seed=11)
    truth = true_containments(paths)
    report = scan([str(tmp_path)], spark, ScanOptions())
    got = {(e["contained"], e["container"]) for e in report["edges"]}
    assert got == truth  # every true containment, no false one
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["verified"]["pairs"] == len(truth) and stages["verified"]["errors"] == 0
    assert stages["content"]["pairs"] >= len(truth)
    for e in report["edges"]:
        assert e["evidence"]["exact"]["missing_rows"] == 0
    rejected = {r["contained"] for r in report["rejected_after_content"]}
    assert all(os.path.basename(r) == "big_subset_foreign" for r in rejected)
    deleted = {d["delete"] for d in report["plan"]["deletions"]}
    assert not deleted & {d["parent"] for d in report["plan"]["deletions"]}  # no chains
    assert all((d["delete"], d["parent"]) in got for d in report["plan"]["deletions"])
    print(lake_cmd.render(report, max_rows=5))
    out = capsys.readouterr().out
    for stage in ("footers", "schema", "minmax", "content", "verified"):
        assert stage in out


def _write(path, table, parts=2):
    os.makedirs(path, exist_ok=True)
    step = -(-table.num_rows // parts)
    for k in range(parts):
        pq.write_table(table.slice(k * step, step), os.path.join(path, f"part-{k}.parquet"), row_group_size=16)


def _small_lake(root):
    n = 120
    parent = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "name": pa.array([f"n{i % 17}" if i % 11 else None for i in range(n)]),
        "score": pa.array([(i % 7) / 3 if i % 5 else -0.0 for i in range(n)], pa.float64()),
        "ts": pa.array([1_700_000_000_000_001 + i for i in range(n)], pa.timestamp("us", tz="UTC")),
        "attrs": pa.array([{"k": str(i % 3)} for i in range(n)], pa.map_(pa.string(), pa.string())),
    })
    idx = [5, 3, 3, 90, 44, 44, 44, 7, 119, 0, 60, 61, 62, 5]
    child = parent.take(pa.array(idx)).select(["ts", "name", "score", "id", "attrs"])  # projection, dups, order
    _write(os.path.join(root, "parent"), parent)
    _write(os.path.join(root, "child"), child, parts=3)
    foreign = child.to_pylist()
    foreign[3]["name"] = "n3"  # every value in range, row absent from the parent (row 90 occurs once)
    _write(os.path.join(root, "near"), pa.Table.from_pylist(foreign, schema=child.schema), parts=1)
    return child


def test_scan_apply_reconstruct_cli(cli, tmp_path, capsys):
    lake, out = tmp_path / "lake", tmp_path / "out"
    _small_lake(str(lake))
    child_dir = str(lake / "child")
    originals = {f: pq.read_table(os.path.join(child_dir, f)) for f in sorted(os.listdir(child_dir))}
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({child_dir: {"access_frequency": 0.0}, str(lake / "near"): {"access_frequency": 0}}))
    assert cli(["scan", str(lake), "--output", str(out), "--costs", str(costs)]) == 0
    printed = capsys.readouterr().out
    assert "minmax" in printed and "content" in printed and "verified" in printed
    report = json.loads((out / "report.json").read_text())
    edges = {(e["contained"], e["container"]) for e in report["edges"]}
    assert edges == {(child_dir, str(lake / "parent"))}
    assert [d["delete"] for d in report["plan"]["deletions"]] == [child_dir]
    assert report["plan"]["bytes_saved"] == sum(os.path.getsize(os.path.join(child_dir, f)) for f in originals)

    assert cli(["apply", str(out)]) == 0
    assert not os.path.exists(child_dir)
    log = json.loads((out / "apply.json").read_text())
    recipe = log[0]["recipe"]
    assert log[0]["status"] == "deleted" and os.path.exists(recipe)

    rebuilt = tmp_path / "rebuilt"
    assert cli(["reconstruct", recipe, "--output", str(rebuilt)]) == 0
    for name, table in originals.items():
        again = pq.read_table(rebuilt / name)
        assert again.schema.equals(table.schema)
        assert again.to_pylist() == table.to_pylist()  # same rows, same order, same file
    assert cli(["reconstruct", recipe]) == 0  # back in its original place
    assert sorted(os.listdir(child_dir)) == sorted(originals)


def test_apply_refuses_when_the_parent_changed(spark, tmp_path):
    from curation.lake.recipe import apply_plan

    lake = tmp_path / "lake"
    _small_lake(str(lake))
    report = scan([str(lake)], spark, ScanOptions(overrides={str(lake / "child"): {"access_frequency": 0.0}}))
    assert [d["delete"] for d in report["plan"]["deletions"]] == [str(lake / "child")]
    parent = pq.read_table(lake / "parent")
    for f in os.listdir(lake / "parent"):
        os.remove(lake / "parent" / f)
    _write(str(lake / "parent"), parent.slice(10))  # rows 0..9 gone: the child is no longer contained
    results = apply_plan(spark, report, str(tmp_path / "recipes"))
    assert results[0]["status"] == "skipped" and "changed" in results[0]["error"]
    assert os.path.exists(lake / "child")
    # Even with a stale snapshot patched to look current, re-verification refuses.
    from curation.lake.recipe import _snapshot

    d = report["plan"]["deletions"][0]
    d["parent_snapshot"] = _snapshot(sorted(str(p) for p in (lake / "parent").iterdir()))
    results = apply_plan(spark, report, str(tmp_path / "recipes"))
    assert results[0]["status"] == "skipped" and "re-verification failed" in results[0]["error"]
    assert os.path.exists(lake / "child")
