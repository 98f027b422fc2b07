"""Run parser calls in a child process with a time limit, so a PDF that hangs or crashes a C library
(PDFium, Tesseract) costs one document, not the Spark worker.

One long-lived child per worker process (started lazily; no inherited locks or PDFium state); a call that
exceeds its limit kills the child, and the next call starts a fresh one.
"""

from __future__ import annotations

import importlib
import os
import pickle
import select
import struct
import subprocess
import sys
import traceback
from typing import Any


class SandboxTimeout(Exception):
    """The call did not finish within its time limit (the child was killed)."""


class SandboxCrash(Exception):
    """The child died during the call (segfault, out of memory, killed)."""


class SandboxError(Exception):
    """The call raised an exception in the child; `kind` is its class name, `reason` a quarantine code if any."""

    def __init__(self, kind: str, message: str, reason: str | None = None):
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.reason = kind, message, reason


def _read_msg(stream) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("closed")
    size = struct.unpack("<Q", head)[0]
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("short message")
    return pickle.loads(body)


def _write_msg(stream, obj: Any) -> None:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(body)) + body)
    stream.flush()


def serve(memory_limit_mb: int) -> None:
    """The child's loop: read (ref, args) from stdin, answer (ok, value) on the original stdout."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a C library prints goes to stderr, not into the protocol
    proto_in = os.fdopen(os.dup(0), "rb")
    if memory_limit_mb > 0:
        try:
            import resource

            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    while True:
        try:
            ref, args = _read_msg(proto_in)
        except (EOFError, OSError):
            return
        try:
            module, _, name = ref.partition(":")
            result = getattr(importlib.import_module(module), name)(*args)
            answer = (True, result)
        except MemoryError:
            answer = (False, ("MemoryError", "out of memory (sandbox limit)", "pdf_too_complex"))
        except Exception as e:
            answer = (False, (type(e).__name__, f"{e}"[:1000] or traceback.format_exc(limit=2)[-1000:],
                              getattr(e, "reason", None)))
        _write_msg(proto_out, answer)


class Sandbox:
    """A child Python process (`python -m curation.stages.ingest.pdf.sandbox`) speaking length-prefixed pickles.

    A plain subprocess rather than multiprocessing: it does not depend on the parent's __main__ module
    (Spark workers, pytest, scripts without a main guard all work the same).
    """

    def __init__(self, memory_limit_mb: int = 4096):
        self.memory_limit_mb = memory_limit_mb
        self._proc: subprocess.Popen | None = None

    def _start(self) -> None:
        env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "curation.stages.ingest.pdf.sandbox", str(self.memory_limit_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.kill()
                proc.wait(5)
            except Exception:
                pass
            for f in (proc.stdin, proc.stdout):
                try:
                    f.close()
                except Exception:
                    pass

    def call(self, ref: str, *args: Any, timeout: float) -> Any:
        """Run `module:function(*args)` in the child; raise SandboxTimeout / SandboxCrash / SandboxError."""
        if self._proc is None or self._proc.poll() is not None:
            self.kill()
            self._start()
        proc = self._proc
        try:
            _write_msg(proc.stdin, (ref, args))
        except (OSError, ValueError) as e:
            self.kill()
            raise SandboxCrash(f"parser process is gone: {e}") from e
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise SandboxTimeout(f"{ref.rsplit(':', 1)[-1]} did not finish within {timeout:.0f} s")
        try:
            ok, value = _read_msg(proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as e:
            code = proc.poll()
            self.kill()
            raise SandboxCrash(f"parser process died (exit code {code})") from e
        if not ok:
            kind, message, reason = value
            raise SandboxError(kind, message, reason)
        return value

    def __del__(self) -> None:
        try:
            self.kill()
        except Exception:
            pass


_SANDBOXES: dict[int, Sandbox] = {}


def sandbox(memory_limit_mb: int = 4096) -> Sandbox:
    """The sandbox of this worker process (one per memory limit)."""
    if memory_limit_mb not in _SANDBOXES:
        _SANDBOXES[memory_limit_mb] = Sandbox(memory_limit_mb)
    return _SANDBOXES[memory_limit_mb]


def run_inline(ref: str, *args: Any) -> Any:
    """The same call without a child process (for tests and debugging; no time limit)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 4096)
