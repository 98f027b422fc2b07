"""Prefect: a real server on loopback, the scheduled incremental deployment, and a killed flow that resumes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow.dataset as ds
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.spark, pytest.mark.heavy]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _docs(n0: int, n: int) -> list[dict]:
    docs = [json.loads(line) for line in (ROOT / "sample_data" / "jsonl" / "documents.jsonl").open()]
    return [{"id": f"d{i}", "text": docs[i % len(docs)]["text"]} for i in range(n0, n0 + n)]


def _write(path: Path, docs: list[dict]) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "PYSPARK_PYTHON": sys.executable,
           "PREFECT_LOGGING_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError((home / "server.log").read_text()[-3000:])
        time.sleep(1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError("prefect server did not become healthy")
    yield env
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _api(env, method, path, **kw):
    """One API call; a busy SQLite-backed server answers 503 under load, so those are retried."""
    for attempt in range(20):
        r = httpx.request(method, env["PREFECT_API_URL"] + path, timeout=60, **kw)
        if r.status_code not in (503, 429):
            break
        time.sleep(min(2 + attempt, 10))
    r.raise_for_status()
    return r.json()


def _wait_run(env, run_id: str, timeout: float = 600) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = _api(env, "GET", f"/flow_runs/{run_id}")
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(2)
    raise TimeoutError(f"flow run {run_id} did not finish")


def test_scheduled_incremental_deployment(prefect_server, tmp_path):
    env = prefect_server
    landing, corpus = tmp_path / "landing", tmp_path / "corpus"
    landing.mkdir()
    _write(landing / "batch1.jsonl", _docs(0, 60))
    cfg = tmp_path / "incremental.yaml"
    cfg.write_text("pipeline:\n  stages: [normalize, dedup, export]\ndedup:\n  containment: false\n"
                   "spark:\n  master: local[2]\n  progress: false\n")
    server_log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows.deploy", "--config", str(cfg), "--landing", str(landing), "--corpus", str(corpus),
         "--cron", "0 3 * * *", "--min-age-seconds", "0"],
        env=env, cwd=ROOT, stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 180
        dep = None
        while time.time() < deadline and dep is None:
            deps = _api(env, "POST", "/deployments/filter", json={})
            dep = next((d for d in deps if d["name"] == "incremental"), None)
            time.sleep(2)
        assert dep is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert dep["schedules"] and dep["schedules"][0]["schedule"]["cron"] == "0 3 * * *"

        run = _api(env, "POST", f"/deployments/{dep['id']}/create_flow_run", json={})
        done = _wait_run(env, run["id"])
        assert done["state"]["type"] == "COMPLETED", (tmp_path / "serve.log").read_text()[-5000:]
        manifest = json.loads((corpus / "manifest.json").read_text())
        assert manifest["version"] == 1 and len(manifest["batches"]) == 1
        first_docs = manifest["docs"]
        assert first_docs > 0 and all((corpus / s).exists() for s in manifest["shards"])

        # New arrivals: 20 new documents and 20 copies of documents the corpus already holds.
        _write(landing / "batch2.jsonl", [{**d, "id": f"new-{d['id']}"} for d in _docs(100, 20)] + [{**d, "id": f"again-{d['id']}"} for d in _docs(0, 20)])
        run = _api(env, "POST", f"/deployments/{dep['id']}/create_flow_run", json={})
        done = _wait_run(env, run["id"])
        assert done["state"]["type"] == "COMPLETED", (tmp_path / "serve.log").read_text()[-5000:]
        manifest = json.loads((corpus / "manifest.json").read_text())
        assert manifest["version"] == 2 and (corpus / "manifests" / "v0001.json").exists()
        batch2 = json.loads((corpus / "batches" / "v0002" / "manifest.json").read_text())
        assert batch2["inputs"] == [str(landing / "batch2.jsonl")]  # only the new file
        ledger = ds.dataset(corpus / "batches" / "v0002" / "ledger").to_table().to_pylist()
        dedup_rows = [r for r in ledger if r["stage"] == "dedup"]
        dropped_again = {r["source_id"] for r in dedup_rows if r["decision"] == "dropped"}
        assert {f"again-d{i}" for i in range(20)} <= dropped_again
        assert all(r["related_id"] for r in dedup_rows if r["decision"] == "dropped")
        assert manifest["docs"] == first_docs + batch2["stages"][-1]["docs"]["kept"]

        # Nothing new: the next run is idle and writes no version.
        run = _api(env, "POST", f"/deployments/{dep['id']}/create_flow_run", json={})
        assert _wait_run(env, run["id"])["state"]["type"] == "COMPLETED"
        assert json.loads((corpus / "manifest.json").read_text())["version"] == 2
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)


def test_overlapping_run_is_refused_by_the_lock(tmp_path):
    from flows.incremental import CorpusLocked, corpus_lock

    with corpus_lock(str(tmp_path)):
        with pytest.raises(CorpusLocked):
            with corpus_lock(str(tmp_path)):
                pass
    (tmp_path / "_state" / "lock").write_text(json.dumps({"pid": 999999999, "host": socket.gethostname()}))
    with corpus_lock(str(tmp_path)):  # a stale lock of a dead process is taken over
        pass


def _outputs(run: Path) -> dict:
    out = {}
    for f in sorted(run.rglob("*.parquet")):
        rel = f.relative_to(run).as_posix()
        if not rel.startswith(("stages/", "_tmp")):
            out[rel] = ds.dataset(f).to_table().to_pylist()
    return out


def test_killed_flow_run_resumes_to_the_same_output(prefect_server, tmp_path):
    env = prefect_server
    data = tmp_path / "in.jsonl"
    _write(data, _docs(0, 4000))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"input:\n  paths: [{data}]\npipeline:\n  stages: [normalize, export]\n"
                   "output:\n  shard_target_bytes: 1000000\nspark:\n  master: local[2]\n  progress: false\n")
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    cmd = [sys.executable, "-m", "flows.curate", str(cfg)]
    subprocess.run([*cmd, str(clean)], env=env, cwd=ROOT, check=True, capture_output=True, timeout=900)
    proc = subprocess.Popen([*cmd, str(killed)], env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = killed / "_tmp" / "01-normalize"
    deadline = time.time() + 600
    while time.time() < deadline and not marker.exists() and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "flow finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    subprocess.run([*cmd, str(killed)], env=env, cwd=ROOT, check=True, capture_output=True, timeout=900)
    a, b = _outputs(clean), _outputs(killed)
    assert a.keys() == b.keys() and a == b
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (clean, killed))
    assert [s["docs"] for s in ma["stages"]] == [s["docs"] for s in mb["stages"]]
