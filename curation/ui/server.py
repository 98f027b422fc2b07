"""Run the UI's uvicorn server in a background thread (browser tests, the screenshot script)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from curation.ui.app import create_app


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(dirs: list[str], host: str = "127.0.0.1", port: int | None = None, token: str | None = None,
            data_roots: list[str] | None = None, timeout: float = 20.0) -> Iterator[str]:
    """Serve `dirs` on host:port (a free port by default) while the block runs; yields the base URL."""
    port = port or free_port(host)
    app = create_app(dirs, token=token, loopback_only=host in ("127.0.0.1", "localhost"), data_roots=data_roots)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="curation-ui", daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError(f"the UI server did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
