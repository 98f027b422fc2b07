"""Run the UI's uvicorn server in a background thread (browser and security tests, the screenshot script)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import uvicorn

from curation.ui.app import create_app
from curation.ui.sandbox import Limits


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(dirs: list[str], host: str = "127.0.0.1", port: int | None = None, token: str | None = None,
            data_roots: list[str] | None = None, timeout: float = 20.0, *, public: bool | None = None,
            allowed_hosts: Iterable[str] = (), pdf_limits: Limits | None = None) -> Iterator[str]:
    """Serve `dirs` on host:port (a free port by default) while the block runs; yields the base URL.

    `public=True` makes a loopback server behave as one bound beyond loopback (every request needs `token`),
    so that mode can be tested without exposing a port to the network.
    """
    port = port or free_port(host)
    app = create_app(dirs, token=token, data_roots=data_roots, host=host, public=public,
                     allowed_hosts=allowed_hosts, pdf_limits=pdf_limits)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="curation-ui", daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError(f"the UI server did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
