"""docker-compose.yml, the Dockerfile and the --py-files zip: checked without a Docker engine."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_is_valid_against_the_compose_spec():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(exe).exists():
        pytest.skip("check-jsonschema not installed")
    res = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_compose_has_the_services_and_volumes():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"spark-master", "spark-worker", "prefect-server", "prefect-worker", "ui", "llm"} <= set(services)
    assert services["llm"]["profiles"] == ["llm"]
    assert "data" in compose["volumes"]
    worker_cmd = " ".join(services["prefect-worker"]["command"])
    assert "flows.deploy" in worker_cmd and "configs/incremental.yaml" in worker_cmd
    assert (ROOT / "configs" / "incremental.yaml").exists()


def test_dockerfile_copies_only_paths_that_exist():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        m = re.match(r"COPY\s+(.+)\s+\S+$", line.strip())
        if m:
            for src in m.group(1).split():
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"


def test_pyfiles_zip_carries_the_package_and_its_schemas(tmp_path):
    res = subprocess.run(["bash", str(ROOT / "scripts" / "build_pyfiles.sh")], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    code = ("import sys; sys.path.insert(0, {!r}); import curation, curation.schema as S; "
            "assert curation.__file__.startswith({!r}), curation.__file__; "
            "print(len(S.document_schema()))").format(str(ROOT / "dist" / "curation.zip"), str(ROOT / "dist" / "curation.zip"))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) >= 12
