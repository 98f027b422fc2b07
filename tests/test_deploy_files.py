"""docker-compose.yml, the Dockerfile and the --py-files zip: checked without a Docker engine.

The compose file's safety properties (docs/SECURITY.md) are asserted on the parsed YAML, with a small
implementation of Compose's variable interpolation standing in for `docker compose config`; the container
entrypoint (flows/container.py) and the rewrite backend's key file are exercised for real.
"""

from __future__ import annotations

import fnmatch
import http.server
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from flows import container

ROOT = Path(__file__).resolve().parents[1]
UID = "10001"
SECRETS = {"ui_token", "spark_secret", "prefect_auth", "llm_api_key"}
SECRETISH = re.compile(r"TOKEN|SECRET|API_KEY|AUTH_STRING|PASSWORD|PASSWD", re.I)
INTERNAL_PORTS = {"7077", "8080", "8081", "4200", "8000", "6066", "4040"}


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


# --- Compose's interpolation, enough of it to stand in for `docker compose config` ---------------------

VAR = re.compile(r"\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", re.S)


class MissingVariable(Exception):
    pass


def references(value: str) -> list[tuple[str, str, str]]:
    """(name, operator, argument) of every ${...} / $NAME in one string ($$ is a literal $)."""
    out = []
    for m in VAR.finditer(value):
        if m.group(1):
            continue
        if m.group(3):
            out.append((m.group(3), "", ""))
            continue
        b = BRACED.match(m.group(2))
        assert b, f"unparsable ${{{m.group(2)}}}"
        out.append((b.group(1), b.group(2) or "", b.group(3) or ""))
    return out


def interpolate(value: str, env: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        if m.group(1):
            return "$"
        if m.group(3):
            return env.get(m.group(3), "")
        name, op, arg = BRACED.match(m.group(2)).groups()
        val = env.get(name)
        if op in (":?", "?") and (val is None or (op == ":?" and val == "")):
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and (val is None or (op == ":-" and val == "")):
            return arg
        if op in (":+", "+"):
            return arg if val else ""
        return val or ""

    return VAR.sub(one, value)


def walk(node, fn):
    if isinstance(node, dict):
        return {k: walk(v, fn) for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v, fn) for v in node]
    return fn(node) if isinstance(node, str) else node


def strings(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node


def raw_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose(env: dict[str, str] | None = None) -> dict:
    """The file as `docker compose config` would see it with these variables (and the secrets folder set)."""
    env = {"CURATION_SECRETS": "/srv/curation-secrets"} if env is None else env
    return walk(raw_compose(), lambda v: interpolate(v, env))


def test_compose_config_fails_without_the_secrets():
    with pytest.raises(MissingVariable, match="CURATION_SECRETS"):
        compose({})
    with pytest.raises(MissingVariable, match="CURATION_SECRETS"):
        compose({"CURATION_SECRETS": ""})  # `:?` also refuses an empty value
    files = {name: s["file"] for name, s in compose({"CURATION_SECRETS": "/s"})["secrets"].items()}
    assert files == {name: f"/s/{name}" for name in SECRETS}


def test_secret_variables_are_required_and_never_defaulted():
    raw = raw_compose()
    refs = [r for v in strings(raw) for r in references(v)]
    for name, op, arg in refs:
        if name == "CURATION_SECRETS" or SECRETISH.search(name):
            assert op == ":?", f"${{{name}{op}{arg}}}: a secret variable must be required (:?), never defaulted"
    for name, spec in raw["secrets"].items():
        assert set(spec) == {"file"}, f"secret {name} must come from a file, not {sorted(spec)}"
        assert spec["file"].startswith("${CURATION_SECRETS:?") and spec["file"].endswith(f"}}/{name}")


def test_no_secret_value_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
    for name, svc in compose()["services"].items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment as a mapping, please"
        listed = set(svc.get("secrets") or [])
        for var, value in env.items():
            if var == "CURATION_SECRET_ENV":
                mapped = container.parse_secret_env(value)
                assert {n for _, n in mapped} <= listed, f"{name} maps secrets it does not mount"
            elif var == "CURATION_SPARK_SECRET":
                assert value in listed
            elif var.endswith("_FILE"):
                assert value.startswith("/run/secrets/") and value.rsplit("/", 1)[1] in listed
            else:
                assert not SECRETISH.search(var), f"{name}: {var} set in the file; it must come from a secret"
        hc = svc["healthcheck"]["test"]
        for flag in ("--basic", "--bearer"):
            if flag in hc:
                assert hc[hc.index(flag) + 1] in listed


def test_only_the_ui_is_published_on_loopback_by_default():
    services = compose()["services"]
    published = {name: svc["ports"] for name, svc in services.items() if svc.get("ports")}
    assert published == {"ui": ["127.0.0.1:8765:8765"]}
    custom = compose({"CURATION_SECRETS": "/s", "CURATION_UI_BIND": "0.0.0.0"})["services"]["ui"]["ports"]
    assert custom == ["0.0.0.0:8765:8765"]
    for name, svc in services.items():
        assert "network_mode" not in svc and "expose" not in svc, name
        assert not any(str(p).split(":")[-1].split("/")[0] in INTERNAL_PORTS for p in svc.get("ports", [])), name


def test_backend_network_is_internal_and_the_ui_is_not_on_it():
    c = compose()
    assert c["networks"]["backend"]["internal"] is True
    assert not (c["networks"].get("frontend") or {}).get("internal")
    for name, svc in c["services"].items():
        assert svc["networks"] == (["frontend"] if name == "ui" else ["backend"]), name


def test_every_service_runs_unprivileged_and_confined():
    for name, svc in compose()["services"].items():
        assert svc["image"] == "curation:latest", f"{name}: only the project's non-root image"
        assert svc["user"] == f"{UID}:{UID}", name
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"] and "cap_add" not in svc and not svc.get("privileged"), name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert any(t.startswith("/tmp:") for t in svc["tmpfs"]), name
        assert not any("docker.sock" in str(v) for v in svc.get("volumes", [])), name
        hc = svc["healthcheck"]
        assert not hc.get("disable") and hc["test"][0] == "CMD" and "flows.container" in hc["test"], name
        limits = svc["deploy"]["resources"]["limits"]
        assert {"cpus", "memory", "pids"} <= set(limits), name


def test_spark_processes_authenticate_and_the_driver_is_reachable():
    services = compose()["services"]
    for name in ("spark-master", "spark-worker", "prefect-worker"):
        env = services[name]["environment"]
        assert env["CURATION_SPARK_SECRET"] == "spark_secret" and "spark_secret" in services[name]["secrets"], name
        assert env["SPARK_LOCAL_DIRS"].startswith("/scratch/"), name
    assert services["spark-master"]["environment"]["SPARK_LOCAL_IP"] == "127.0.0.1"  # its web UI on loopback
    assert "SPARK_LOCAL_IP" not in services["spark-worker"]["environment"]
    assert services["prefect-worker"]["environment"]["CURATION_SPARK_DRIVER_HOST"] == "prefect-worker"
    for name in ("spark-worker", "prefect-worker"):  # Spark's codecs load native libraries from java.io.tmpdir
        assert "exec" in next(t for t in services[name]["tmpfs"] if t.startswith("/tmp:")).split(":", 1)[1].split(","), name
    assert "prefect_auth" in services["prefect-server"]["secrets"]
    assert "PREFECT_SERVER_API_AUTH_STRING=prefect_auth" in services["prefect-server"]["environment"]["CURATION_SECRET_ENV"]
    assert services["llm"]["environment"]["CURATION_SECRET_ENV"] == "API_KEY=llm_api_key"


def test_dockerfile_runs_as_the_unprivileged_user():
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [ln.split(None, 1)[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] == UID, "the last USER must be the unprivileged uid"
    assert any(f"--uid {UID}" in ln for ln in lines)
    entry = [ln for ln in lines if ln.startswith("ENTRYPOINT")]
    assert entry and "flows.container" in entry[-1]


def test_dockerignore_keeps_secrets_out_and_the_copied_sources_in():
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]

    def ignored(path: str) -> bool:
        # a pattern matches from the context root (**/ at any depth); a matched folder takes its contents
        parts = path.split("/")
        for pat in patterns:
            starts = range(len(parts)) if pat.startswith("**/") else [0]
            pat = pat.removeprefix("**/")
            if any(fnmatch.fnmatch("/".join(parts[i:j]), pat) for i in starts for j in range(i + 1, len(parts) + 1)):
                return True
        return False

    for secret in (".env", "secrets/ui_token", "deploy/tls.key", ".git/config", ".venv/bin/python"):
        assert ignored(secret), secret
    tracked = subprocess.run(["git", "ls-files", "pyproject.toml", "README.md", "curation", "schemas", "flows",
                              "configs", "sample_data"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert tracked and not [f for f in tracked if ignored(f)]


def test_spark_settings_exist_in_the_installed_spark():
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    blob = b""
    for jar in [*jars.glob("spark-core_*.jar"), *jars.glob("spark-network-common_*.jar")]:
        with zipfile.ZipFile(jar) as z:
            for n in z.namelist():
                if n.startswith(("org/apache/spark/internal/config/", "org/apache/spark/network/util/TransportConf")):
                    blob += z.read(n)
    for key in [*container.SPARK_SETTINGS, "spark.authenticate.secret", "spark.driver.host"]:
        assert key.encode() in blob, f"{key} is not a setting of pyspark {pyspark.__version__}"


# --- flows/container.py: the entrypoint and healthchecks of the containers ---------------------------

def _secrets(tmp_path: Path, **values: str) -> Path:
    d = tmp_path / "secrets"
    d.mkdir(exist_ok=True)
    for k, v in values.items():
        (d / k).write_text(v)
    return d


def test_entrypoint_writes_spark_defaults_privately(tmp_path):
    folder = _secrets(tmp_path, spark_secret="s3cr\\et\n", prefect_auth="u:p\n")
    conf = tmp_path / "conf"
    env = container.prepare({"CURATION_SPARK_SECRET": "spark_secret", "SPARK_CONF_DIR": str(conf),
                             "CURATION_SPARK_DRIVER_HOST": "prefect-worker",
                             "CURATION_SECRET_ENV": "PREFECT_API_AUTH_STRING=prefect_auth X=prefect_auth"}, folder)
    assert env["PREFECT_API_AUTH_STRING"] == env["X"] == "u:p"
    path = conf / "spark-defaults.conf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(conf.stat().st_mode) == 0o700
    props = dict(ln.split(" ", 1) for ln in path.read_text().splitlines() if not ln.startswith("#"))
    assert props["spark.authenticate"] == "true" and props["spark.network.crypto.enabled"] == "true"
    assert props["spark.network.crypto.cipher"] == "AES/GCM/NoPadding"
    assert props["spark.authenticate.secret"] == "s3cr\\\\et"  # a backslash escapes in .properties
    assert props["spark.driver.host"] == "prefect-worker"
    assert not list(conf.glob(".*tmp"))
    # no variables, no Spark: the command runs as given
    assert container.prepare({"A": "b"}, folder) == {"A": "b"}


@pytest.mark.parametrize("env, files, message", [
    ({"CURATION_SECRET_ENV": "TOKEN=ui_token"}, {}, "missing"),
    ({"CURATION_SECRET_ENV": "TOKEN=ui_token"}, {"ui_token": "  \n"}, "empty"),
    ({"CURATION_SECRET_ENV": "TOKEN=ui_token"}, {"ui_token": "a\nb"}, "more than one line"),
    ({"CURATION_SECRET_ENV": "TOKEN"}, {}, "not VAR=secret_name"),
    ({"CURATION_SECRET_ENV": "TOKEN=../etc/passwd"}, {}, "not a secret name"),
    ({"CURATION_SPARK_SECRET": "spark_secret"}, {"spark_secret": "x"}, "SPARK_CONF_DIR"),
    ({"CURATION_SPARK_SECRET": "spark_secret", "SPARK_CONF_DIR": "/nonexistent"}, {}, "missing"),
])
def test_entrypoint_refuses_to_start_without_its_secrets(tmp_path, env, files, message):
    with pytest.raises(SystemExit, match=message):
        container.prepare(env, _secrets(tmp_path, **files))


def test_entrypoint_execs_the_command_with_the_secrets(tmp_path):
    folder = _secrets(tmp_path, ui_token="tok\n")
    code = "import os, sys; print(os.environ['CURATION_UI_TOKEN'], sys.argv[1:])"
    env = {**os.environ, "CURATION_SECRETS_DIR": str(folder), "CURATION_SECRET_ENV": "CURATION_UI_TOKEN=ui_token"}
    out = subprocess.run([sys.executable, "-m", "flows.container", "run", "--", sys.executable, "-c", code, "a b"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tok ['a b']"
    env["CURATION_SECRET_ENV"] = "CURATION_UI_TOKEN=nope"
    out = subprocess.run([sys.executable, "-m", "flows.container", "run", "--", "true"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 1 and "secret 'nope' is missing" in out.stderr


@pytest.fixture
def auth_server():
    """A loopback server that wants `Authorization: Bearer k` or Basic u:p; /boom answers 500."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            ok = self.headers.get("Authorization") in ("Bearer k", "Basic dTpw")
            code = 500 if self.path == "/boom" else 200 if ok else 401
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", seen
    srv.shutdown()
    srv.server_close()


def test_healthcheck_sends_the_secret(tmp_path, monkeypatch, auth_server):
    url, seen = auth_server
    monkeypatch.setenv("CURATION_SECRETS_DIR", str(_secrets(tmp_path, key="k\n", basic="u:p")))
    assert container.health(url + "/", bearer="key") == (True, "HTTP 200")
    assert container.health(url + "/", basic="basic") == (True, "HTTP 200")
    assert container.health(url + "/") == (False, "HTTP 401")
    assert container.health(url + "/", any_answer=True) == (True, "HTTP 401")
    assert container.health(url + "/boom", any_answer=True) == (False, "HTTP 500")
    assert container.health("http://127.0.0.1:1/", timeout=2)[0] is False
    assert seen[:2] == ["Bearer k", "Basic dTpw"]


def test_rewrite_backend_reads_its_key_from_a_file(tmp_path, monkeypatch):
    from curation.stages.rewrite.backends.http import OpenAIHTTPBackend

    key = tmp_path / "llm_api_key"
    key.write_text("from-file\n")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key))
    assert OpenAIHTTPBackend("http://x/v1", "m").headers == {"Authorization": "Bearer from-file"}
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")  # the variable itself wins
    assert OpenAIHTTPBackend("http://x/v1", "m").headers == {"Authorization": "Bearer from-env"}
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="cannot read the API key file"):
        OpenAIHTTPBackend("http://x/v1", "m")
    monkeypatch.delenv("OPENAI_API_KEY_FILE")
    assert OpenAIHTTPBackend("http://x/v1", "m").headers == {}
    assert OpenAIHTTPBackend("http://x/v1", "m", api_key_env=None).headers == {}
