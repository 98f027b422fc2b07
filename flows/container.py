"""Entrypoint and healthchecks of the docker-compose.yml containers: secrets go in, then the service starts.

    python -m flows.container run -- spark-class org.apache.spark.deploy.master.Master ...
    python -m flows.container health http://127.0.0.1:4200/api/admin/version --basic prefect_auth

`run` reads the Docker secrets mounted under /run/secrets (or $CURATION_SECRETS_DIR), hands each one to its
service the way that service reads it, and then replaces itself with the command (same PID, so signals
reach the service):

- CURATION_SECRET_ENV="VAR=secret ...": the secret's contents become environment variable VAR (Prefect's
  auth strings, the UI's CURATION_UI_TOKEN, llama.cpp's API_KEY). Not a command-line flag: every process in
  the container can read the others' command lines with ps.
- CURATION_SPARK_SECRET=secret: writes $SPARK_CONF_DIR/spark-defaults.conf (mode 0600, on the /tmp tmpfs)
  with spark.authenticate, that shared secret and AES-GCM RPC encryption. spark-class (master, worker) and
  spark-submit (the pyspark driver) both load spark-defaults.conf from SPARK_CONF_DIR, so the secret is
  never on a Java command line. Spark standalone takes the secret only as spark.authenticate.secret
  (spark.authenticate.secret.file is for Kubernetes only); executors get it from their worker through the
  environment, never from the driver. CURATION_SPARK_DRIVER_HOST adds spark.driver.host: the name under
  which executors reach a driver running in this container.

A variable that names a secret which is not there stops the container with a message saying what to do:
a service never starts without the authentication it was configured with.

`health` GETs a URL, with a secret as Bearer or Basic credentials, and exits 0 on a 2xx answer (or on any
answer below 500 with --any-answer, for a server that answers 401 until given its token).
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_SECRETS_DIR = "/run/secrets"

# RPC authentication with the shared secret, and AES-GCM encryption of every RPC and block transfer
# (AES-CTR, the default cipher, is not authenticated). No fallback to the older SASL handshake: every
# process here runs the same Spark. The standalone REST submission server has no authentication: off.
# Jobs cannot be killed from a web UI.
SPARK_SETTINGS = {
    "spark.authenticate": "true",
    "spark.network.crypto.enabled": "true",
    "spark.network.crypto.cipher": "AES/GCM/NoPadding",
    "spark.network.crypto.saslFallback": "false",
    "spark.master.rest.enabled": "false",
    "spark.ui.killEnabled": "false",
}


class SecretError(SystemExit):
    """A secret that should be there is missing, unreadable or empty (exits the process with the message)."""


def secrets_dir() -> Path:
    return Path(os.environ.get("CURATION_SECRETS_DIR") or DEFAULT_SECRETS_DIR)


def read_secret(name: str, folder: Path | None = None) -> str:
    """The secret's contents without surrounding whitespace (files made with `echo` end in a newline)."""
    if not name or "/" in name or name in (".", ".."):
        raise SecretError(f"not a secret name: {name!r}")
    path = (folder or secrets_dir()) / name
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SecretError(f"secret {name!r} is missing: {path} does not exist. List it under the service's "
                          f"`secrets:` in docker-compose.yml and create the file (see the top of that file).") from None
    except PermissionError:
        raise SecretError(f"secret {name!r} is not readable by uid {os.getuid()}: make {name} in the host's secrets "
                          f"folder readable (chmod 444; the folder itself stays 700).") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SecretError(f"cannot read secret {name!r} at {path}: {type(e).__name__}: {e}") from None
    if not value:
        raise SecretError(f"secret {name!r} at {path} is empty")
    if "\n" in value or "\r" in value:
        raise SecretError(f"secret {name!r} at {path} has more than one line")
    return value


def parse_secret_env(spec: str) -> list[tuple[str, str]]:
    """'VAR=secret VAR2=secret2' -> [(VAR, secret), ...]."""
    pairs = []
    for item in spec.split():
        var, sep, name = item.partition("=")
        if not (sep and var and name and var.replace("_", "").isalnum()):
            raise SecretError(f"CURATION_SECRET_ENV: {item!r} is not VAR=secret_name")
        pairs.append((var, name))
    return pairs


def _properties_value(value: str) -> str:
    # spark-defaults.conf is a Java properties file: a backslash starts an escape in values.
    return value.replace("\\", "\\\\")


def spark_defaults(secret: str, driver_host: str | None = None) -> str:
    lines = ["# Written at container start by flows/container.py from a Docker secret; lives on a tmpfs."]
    lines += [f"{k} {v}" for k, v in SPARK_SETTINGS.items()]
    lines.append(f"spark.authenticate.secret {_properties_value(secret)}")
    if driver_host:
        lines.append(f"spark.driver.host {driver_host}")
    return "\n".join(lines) + "\n"


def write_spark_defaults(conf_dir: Path, text: str) -> Path:
    conf_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = conf_dir / "spark-defaults.conf"
    tmp = conf_dir / ".spark-defaults.conf.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)  # O_CREAT's mode is ignored for a file left over from an earlier start
    os.replace(tmp, path)
    return path


def prepare(environ: dict[str, str], folder: Path | None = None) -> dict[str, str]:
    """Apply CURATION_SECRET_ENV and CURATION_SPARK_SECRET; returns the environment for the command."""
    env = dict(environ)
    for var, name in parse_secret_env(env.get("CURATION_SECRET_ENV", "")):
        env[var] = read_secret(name, folder)
    spark_secret = env.get("CURATION_SPARK_SECRET")
    if spark_secret:
        conf_dir = env.get("SPARK_CONF_DIR")
        if not conf_dir:
            raise SecretError("CURATION_SPARK_SECRET is set but SPARK_CONF_DIR is not: Spark would not find its settings")
        text = spark_defaults(read_secret(spark_secret, folder), env.get("CURATION_SPARK_DRIVER_HOST") or None)
        write_spark_defaults(Path(conf_dir), text)
    return env


def health(url: str, bearer: str | None = None, basic: str | None = None, any_answer: bool = False,
           timeout: float = 5.0) -> tuple[bool, str]:
    headers = {}
    if bearer:
        headers["Authorization"] = f"Bearer {read_secret(bearer)}"
    elif basic:
        headers["Authorization"] = "Basic " + base64.b64encode(read_secret(basic).encode()).decode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as r:
            return True, f"HTTP {r.status}"
    except urllib.error.HTTPError as e:
        return (any_answer and e.code < 500), f"HTTP {e.code}"
    except (OSError, ValueError) as e:
        return False, f"{type(e).__name__}: {e}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m flows.container", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    run = sub.add_parser("run", help="load the secrets, then exec the command")
    run.add_argument("command", nargs=argparse.REMAINDER)
    h = sub.add_parser("health", help="exit 0 when the URL answers")
    h.add_argument("url")
    auth = h.add_mutually_exclusive_group()
    auth.add_argument("--bearer", metavar="SECRET", help="send this secret as a Bearer token")
    auth.add_argument("--basic", metavar="SECRET", help="send this secret (user:password) as Basic credentials")
    h.add_argument("--any-answer", action="store_true", help="healthy on any HTTP status below 500")
    h.add_argument("--timeout", type=float, default=5.0)
    a = ap.parse_args(argv)
    if a.what == "health":
        ok, detail = health(a.url, a.bearer, a.basic, a.any_answer, a.timeout)
        print(detail)
        sys.exit(0 if ok else 1)
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not command:
        ap.error("run: no command given")
    env = prepare(dict(os.environ))
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
