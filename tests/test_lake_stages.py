"""Lake scan stages that need no Spark: footers, schema graph, min-max and content pruning, row hashes.

The planted lake (>= 200 small datasets with known relations) checks recall stage by stage: no stage may
drop a true containment, and the near misses must fall where the spec says they fall.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.lake.content import content_prune, sample_size
from curation.lake.discover import discover
from curation.lake.footers import read_all
from curation.lake.minmax import minmax_prune
from curation.lake.rowhash import row_hashes
from curation.lake.scan import ScanOptions, scan_stats
from curation.lake.schema_graph import class_edges, schema_classes, schema_pair_count
from tools.planted_lake import make_lake, true_containments


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("lake"))
    paths = make_lake(root, families=20, seed=7)
    return root, paths, true_containments(paths)


def _names(stats, pairs):
    return {(stats[c].path, stats[p].path) for c, p in pairs}


def test_sample_size_matches_spec():
    assert sample_size(0.01, 0.01) == 459
    assert sample_size(0.05, 0.01) < 459 < sample_size(0.01, 0.001)
    with pytest.raises(ValueError):
        sample_size(0, 0.01)


def test_planted_lake_stage_by_stage(planted, capsys):
    root, paths, truth = planted
    stats = read_all(discover([root]))
    assert len([s for s in stats if not s.error]) >= 200
    assert [s.path for s in stats if s.error] == [os.path.join(root, "extras", "corrupt")]
    assert len(truth) > 100
    classes = schema_classes(stats)
    cpairs = class_edges(classes)
    schema_pairs = {(stats[c].path, stats[p].path) for a, b in cpairs
                    for c in classes[a].members for p in classes[b].members if c != p}
    assert len(schema_pairs) == schema_pair_count(classes, cpairs)
    assert truth <= schema_pairs  # schema stage recall 1.0
    mm = minmax_prune(stats, classes, cpairs)
    after_mm = _names(stats, mm.pairs)
    assert truth <= after_mm  # min-max never drops a true containment
    assert len(after_mm) < len(schema_pairs) / 3
    cp = content_prune(stats, mm.pairs, 459)
    after_cp = _names(stats, cp.pairs)
    assert truth <= after_cp  # content pruning never drops a true containment
    # Near misses: an out-of-range value or a null is caught by min-max, a foreign row in a small
    # dataset (read whole) by the content stage; only foreign rows in datasets > 459 rows may survive.
    for c, p in after_mm - truth:
        if os.path.basename(c) in ("near_range", "near_null"):
            assert os.path.dirname(c) != os.path.dirname(p) or os.path.basename(p) not in ("base", "copy")
    leftovers = after_cp - truth
    assert all(os.path.basename(c) == "big_subset_foreign" for c, _ in leftovers), leftovers
    print(f"schema {len(schema_pairs)} -> minmax {len(after_mm)} -> content {len(after_cp)}; true {len(truth)}")
    print("pruned by min-max rule:", dict(mm.pruned))
    assert "schema" in capsys.readouterr().out


def test_near_misses_are_pruned_before_exact_check(planted):
    root, _, truth = planted
    stats = read_all(discover([root]))
    classes = schema_classes(stats)
    mm = minmax_prune(stats, classes, class_edges(classes))
    after_mm = _names(stats, mm.pairs)
    for fam in sorted({os.path.dirname(p) for p in (s.path for s in stats) if "/f0" in p}):
        base = os.path.join(fam, "base")
        assert (os.path.join(fam, "near_range"), base) not in after_mm
        assert (os.path.join(fam, "near_null"), base) not in after_mm
        assert (os.path.join(fam, "subset_dups"), base) in truth  # more rows than the parent, still contained
    cp = _names(stats, content_prune(stats, mm.pairs, 459).pairs)
    for fam in sorted({os.path.dirname(s.path) for s in stats if "/f0" in s.path}):
        assert (os.path.join(fam, "near_foreign"), os.path.join(fam, "base")) not in cp


def test_content_stage_catches_one_percent_foreign_rows(tmp_path):
    """A child with 1 % foreign rows survives a 459-row sample with probability <= 1 %."""
    rng = np.random.default_rng(3)
    parent = pa.table({"id": np.arange(5000), "v": rng.integers(0, 100, 5000)})
    os.makedirs(tmp_path / "parent")
    pq.write_table(parent, tmp_path / "parent" / "p.parquet", row_group_size=512)
    trials = 100
    for t in range(trials):
        idx = np.sort(rng.choice(5000, 990, replace=False))
        child = parent.take(pa.array(idx))
        foreign = pa.table({"id": rng.integers(0, 5000, 10), "v": np.full(10, 1000 + t)})
        os.makedirs(tmp_path / f"c{t:03d}")
        pq.write_table(pa.concat_tables([child, foreign]), tmp_path / f"c{t:03d}" / "c.parquet", row_group_size=100)
    stats = read_all(discover([str(tmp_path)]))
    p = next(i for i, s in enumerate(stats) if s.path.endswith("parent"))
    pairs = [(i, p) for i in range(len(stats)) if i != p]
    res = content_prune(stats, pairs, sample_size(0.01, 0.01))
    assert len(res.pairs) <= 5, f"{len(res.pairs)} of {trials} near misses survived"


def test_schema_graph_equals_brute_force():
    rng = np.random.default_rng(1)
    from curation.lake.footers import DatasetStats

    cols = [("a", "int64"), ("b", "string"), ("c", "double"), ("a", "string"), ("d", "date32[day]")]
    stats = []
    for i in range(60):
        k = int(rng.integers(1, 4))
        chosen = {cols[j] for j in rng.choice(len(cols), k, replace=False)}
        if len({n for n, _ in chosen}) < len(chosen):
            continue
        stats.append(DatasetStats(f"/d{i}", [], schema=dict(chosen)))
    classes = schema_classes(stats)
    got = {(c, p) for a, b in class_edges(classes) for c in classes[a].members for p in classes[b].members if c != p}
    want = {(i, j) for i, j in itertools.permutations(range(len(stats)), 2)
            if set(stats[i].schema.items()) <= set(stats[j].schema.items())}
    assert got == want


def test_footers_are_sound_and_errors_are_reported(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    pq.write_table(pa.table({"x": [1, 2]}), d / "a.parquet")
    pq.write_table(pa.table({"x": ["1"]}), d / "b.parquet")
    ok = tmp_path / "ok"
    ok.mkdir()
    pq.write_table(pa.table({"x": [5, None, 3], "s": ["b", "a", None]}), ok / "a.parquet")
    pq.write_table(pa.table({"x": [9]}), ok / "b.parquet")  # no column s: its row is null there
    stats = {s.path: s for s in read_all(discover([str(tmp_path)]))}
    assert "column 'x'" in stats[str(d)].error
    s = stats[str(ok)]
    assert s.rows == 4 and s.columns["x"].min == 3 and s.columns["x"].max == 9
    assert s.columns["x"].null_count == 1 and s.columns["s"].null_count == 2
    assert (s.columns["s"].min, s.columns["s"].max) == ("a", "b")


def test_row_hashes_follow_value_equality():
    a = pa.table({"f": [0.0, 1.5, None], "s": pa.array(["x", "y", None]).dictionary_encode(),
                  "t": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC"))})
    b = pa.table({"t": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC")), "f": [-0.0, 1.5, None],
                  "s": ["x", "y", None]})
    assert (row_hashes(a, a.column_names) == row_hashes(b, b.column_names)).all()
    c = pa.table({"f": [0.0, 1.5, 0.0], "s": ["x", "y", None], "t": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC"))})
    assert row_hashes(c, c.column_names)[2] != row_hashes(b, b.column_names)[2]  # null != 0.0


def test_scan_without_spark_reports_no_edges(planted):
    root, _, _ = planted
    report = scan_stats(read_all(discover([root])), None, ScanOptions(verify=False))
    assert report["edges"] == [] and report["plan"]["deletions"] == []
    assert [s["stage"] for s in report["stages"]] == ["schema", "minmax", "content", "verified"]
