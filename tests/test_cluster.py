"""A real Spark standalone cluster with authentication: the README's spark-submit command against it.

A master and a worker are started from the installed pyspark on 127.0.0.1 with `spark.authenticate`, a random
shared secret and AES RPC encryption (a `spark-defaults.conf` readable only by its owner, as
docs/SECURITY.md#spark describes). The driver and the executors run a Python that cannot import the project
(`python -S`: no site processing, so the editable install is invisible), so the code reaches them only
through `--py-files dist/curation.zip`, bundled models and prompts included. The whole sample pipeline must
give the same documents as local mode, and a client without the secret must be refused.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from curation.ui.server import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.spark, pytest.mark.heavy]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _bare_python(folder: Path) -> Path:
    """A Python with the third-party packages but without the project; logs the PYTHONPATH of every start."""
    site = sysconfig.get_paths()["purelib"]
    script = folder / "python-without-curation.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$PWD|$*|$PYTHONPATH" >> "{folder}/pythonpath.log"\n'
        f'export PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{site}"\n'
        f'exec "{sys.executable}" -S "$@"\n')
    script.chmod(0o755)
    return script


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"{path.name}: no {text!r} within {timeout:.0f} s:\n{path.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[dict]:
    """A standalone master and one worker with authentication on; yields the master URL and the client env."""
    if shutil.which("java") is None:
        pytest.skip("no java on PATH")
    tmp = tmp_path_factory.mktemp("cluster")
    conf = tmp / "conf"
    conf.mkdir()
    defaults = conf / "spark-defaults.conf"
    defaults.touch(mode=0o600)
    defaults.write_text(f"spark.authenticate true\nspark.authenticate.secret {secrets.token_hex(24)}\n"
                        "spark.network.crypto.enabled true\nspark.master.rest.enabled false\nspark.ui.enabled false\n")
    home = _spark_home()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_CONF_DIR": str(conf), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_WORKER_DIR": str(tmp / "work"), "SPARK_LOG_DIR": str(tmp)}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = []
    logs = {"master": tmp / "master.log", "worker": tmp / "worker.log"}
    try:
        cmd = [str(home / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
               "--port", str(port), "--webui-port", str(free_port())]
        procs.append(subprocess.Popen(cmd, env=env, stdout=logs["master"].open("w"), stderr=subprocess.STDOUT,
                                      start_new_session=True))
        _wait_for(logs["master"], "I have been elected leader", procs[0])
        cmd = [str(home / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
               "--cores", "2", "--memory", "4g", "--webui-port", str(free_port())]
        procs.append(subprocess.Popen(cmd, env=env, stdout=logs["worker"].open("w"), stderr=subprocess.STDOUT,
                                      start_new_session=True))
        _wait_for(logs["worker"], "Successfully registered with master", procs[1])
        yield {"url": url, "env": env, "tmp": tmp, "logs": logs}
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)


def _documents(run: Path) -> dict[str, str]:
    manifest = json.loads((run / "manifest.json").read_text())
    table = ds.dataset([str(run / "documents" / s["file"]) for s in manifest["shards"]]).to_table(columns=["doc_id", "text"])
    return dict(zip(table.column("doc_id").to_pylist(), table.column("text").to_pylist(), strict=True))


def test_the_sample_pipeline_on_an_authenticated_cluster_equals_local_mode(cluster, tmp_path):
    tmp = cluster["tmp"]
    python = _bare_python(tmp)
    probe = subprocess.run([str(python), "-c", "import curation"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": ""}, cwd=tmp)
    assert probe.returncode != 0 and "No module named 'curation'" in probe.stderr  # executors need the zip
    (tmp / "pythonpath.log").unlink()

    subprocess.run(["bash", str(ROOT / "scripts" / "build_pyfiles.sh")], check=True, capture_output=True)
    env = {**cluster["env"], "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python)}
    env.pop("PYTHONPATH", None)
    out = tmp_path / "cluster"
    res = subprocess.run(
        [str(_spark_home() / "bin" / "spark-submit"), "--master", cluster["url"], "--py-files", "dist/curation.zip",
         "curation/submit.py", "run", "configs/sample.yaml", "--output", str(out)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-4000:]
    started = [line.split("|") for line in (tmp / "pythonpath.log").read_text().splitlines()]
    daemons = [s for s in started if "pyspark.daemon" in s[1]]
    assert daemons and all(s[0].startswith(str(tmp / "work")) for s in daemons), started  # executors' Pythons
    assert all(str(ROOT) not in s[2].split(":") for s in started)  # none has the source tree on its path
    assert "Registering app" in cluster["logs"]["master"].read_text()  # the job ran on the cluster, not local

    local = tmp_path / "local"
    res = subprocess.run([sys.executable, "-m", "curation", "run", "configs/sample.yaml", "--output", str(local)],
                         cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-4000:]
    on_cluster, in_local = _documents(out), _documents(local)
    assert len(on_cluster) >= 20
    assert on_cluster == in_local


def test_a_client_without_the_secret_is_refused(cluster, tmp_path):
    script = tmp_path / "count.py"
    script.write_text("from pyspark.sql import SparkSession\n"
                      "print('COUNT', SparkSession.builder.getOrCreate().range(10).count())\n")
    no_conf = tmp_path / "conf"
    no_conf.mkdir()
    env = {**cluster["env"], "SPARK_CONF_DIR": str(no_conf), "PYSPARK_PYTHON": sys.executable}
    log = tmp_path / "client.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([str(_spark_home() / "bin" / "spark-submit"), "--master", cluster["url"],
                                 "--conf", "spark.ui.enabled=false", str(script)],
                                env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(log, "Expected SaslMessage", proc, timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert "COUNT" not in log.read_text()
