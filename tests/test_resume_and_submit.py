"""A run killed with SIGKILL mid-write resumes to exactly the uninterrupted result; spark-submit works."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "curation"]

pytestmark = [pytest.mark.spark, pytest.mark.heavy]


def _env():
    return {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}


def _make_input(path: Path, copies: int = 60) -> None:
    """Real sample documents, repeated under new ids (enough rows that writing takes a while), plus bad lines."""
    docs = [json.loads(line) for line in (ROOT / "sample_data" / "jsonl" / "documents.jsonl").open()]
    with path.open("w") as fh:
        for c in range(copies):
            for d in docs:
                fh.write(json.dumps({"id": f"{d['id']}~{c}", "text": f"[copy {c}] " + d["text"]}) + "\n")
        fh.write('{"id": "bad", "text": \n')


def _shards(run: Path) -> dict[str, list]:
    out = {}
    for sub in ("documents", "ledger/00-read", "ledger/01-normalize", "rejected/00-read"):
        for f in sorted((run / sub).glob("*.parquet")):
            out[f"{sub}/{f.name}"] = pq.read_table(f).to_pylist()
    return out


def _counts(run: Path) -> list:
    m = json.loads((run / "manifest.json").read_text())
    return [(s["name"], s["docs"], s["tokens"], s["reasons"]) for s in m["stages"]]


def test_sigkill_mid_write_then_rerun_equals_uninterrupted(tmp_path):
    data = tmp_path / "in.jsonl"
    _make_input(data)
    args = ["normalize", "--input", str(data), "--set", "output.shard_target_bytes=2000000"]
    clean = tmp_path / "clean"
    subprocess.run([*CLI, *args, "--output", str(clean)], check=True, env=_env(), capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([*CLI, *args, "--output", str(killed)], env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    marker = killed / "_tmp" / "01-normalize" / "documents"
    while time.time() < deadline and not marker.exists() and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    manifest = json.loads((killed / "manifest.json").read_text())
    assert [s["status"] for s in manifest["stages"]] == ["done", "running"]

    subprocess.run([*CLI, *args, "--output", str(killed)], check=True, env=_env(), capture_output=True, timeout=600)
    assert _counts(killed) == _counts(clean)
    assert _shards(killed) == _shards(clean)
    assert len([k for k in _shards(clean) if k.startswith("documents/")]) > 1
    assert not (killed / "_tmp" / "01-normalize").exists()


def test_rerun_with_same_config_does_not_redo_work(tmp_path):
    data = tmp_path / "in.jsonl"
    _make_input(data, copies=1)
    out = tmp_path / "run"
    cmd = [*CLI, "normalize", "--input", str(data), "--output", str(out)]
    subprocess.run(cmd, check=True, env=_env(), capture_output=True, timeout=600)
    first = json.loads((out / "manifest.json").read_text())
    subprocess.run(cmd, check=True, env=_env(), capture_output=True, timeout=600)
    second = json.loads((out / "manifest.json").read_text())
    assert [s["finished_at"] for s in first["stages"]] == [s["finished_at"] for s in second["stages"]]
    changed = subprocess.run([*cmd, "--set", "normalize.min_chars=50"], check=True, env=_env(), capture_output=True,
                             timeout=600)
    assert changed.returncode == 0
    third = json.loads((out / "manifest.json").read_text())
    assert third["stages"][0]["finished_at"] == first["stages"][0]["finished_at"]  # read reused
    assert third["stages"][1]["finished_at"] != first["stages"][1]["finished_at"]  # normalize redone


def test_spark_submit_runs_the_pipeline(tmp_path):
    submit = Path(sys.executable).parent / "spark-submit"
    if not submit.exists():
        pytest.skip("spark-submit not in the venv")
    out = tmp_path / "submitted"
    shutil.copy(ROOT / "configs" / "sample.yaml", tmp_path / "sample.yaml")
    res = subprocess.run(
        [str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false", str(ROOT / "curation" / "submit.py"),
         "run", str(tmp_path / "sample.yaml"), "--input", str(ROOT / "sample_data" / "jsonl"), "--output", str(out),
         "--set", "pipeline.stages=[normalize, export]"],
        env=_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["name"] for s in manifest["stages"]] == ["read", "normalize", "export"]
    assert manifest["stages"][-1]["docs"]["kept"] > 300
    assert "export" in res.stdout


@pytest.mark.spark
def test_a_resume_with_a_changed_config_never_mixes_and_from_reruns(spark, tmp_path, make_config, sample_dir):
    """Changing export's config reruns export only; the manifest then holds exactly what a fresh run with the new
    config holds (same keys); --from reruns from the named stage even when nothing changed."""
    from curation.engine.runner import run_pipeline

    inputs = [str(sample_dir / "jsonl")]
    out = str(tmp_path / "run")
    old = make_config(**{"pipeline.stages": "[normalize, export]"})
    first = run_pipeline(old, inputs=inputs, out_dir=out, spark=spark)
    time.sleep(1.1)
    new = make_config(**{"pipeline.stages": "[normalize, export]", "export.min_tokens": 200})
    second = run_pipeline(new, inputs=inputs, out_dir=out, spark=spark)
    fresh = run_pipeline(new, inputs=inputs, out_dir=str(tmp_path / "fresh"), spark=spark)
    assert [s["key"] for s in second["stages"]] == [s["key"] for s in fresh["stages"]]
    assert [s["docs"] for s in second["stages"]] == [s["docs"] for s in fresh["stages"]]
    assert [s["finished_at"] for s in second["stages"][:2]] == [s["finished_at"] for s in first["stages"][:2]]
    assert second["stages"][2]["finished_at"] != first["stages"][2]["finished_at"]
    assert second["config"] == fresh["config"]
    time.sleep(1.1)
    third = run_pipeline(new, inputs=inputs, out_dir=out, spark=spark, from_stage="normalize")
    assert third["stages"][0]["finished_at"] == second["stages"][0]["finished_at"]
    assert all(t["finished_at"] != s["finished_at"] for t, s in zip(third["stages"][1:], second["stages"][1:], strict=True))
