"""Run parser calls in a child process with a time limit, so a PDF that hangs or crashes a C library
(PDFium, Tesseract) costs one document, not the Spark worker.

One long-lived child per worker process (started lazily; no inherited locks or PDFium state); a call that
exceeds its limit kills the child, and the next call starts a fresh one.

The child parses hostile PDFs, so the parent treats what it answers as data: messages are JSON plus raw byte
blobs (never pickles, which would let a compromised child run code in the Spark worker), and a reply larger
than MAX_REPLY is refused. Calls name `module:function` refs that are constants in our code, never config.
"""

from __future__ import annotations

import importlib
import json
import os
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


MAX_REPLY = 512 << 20
"""Largest message accepted from the child (texts of a long PDF are a few MB)."""


def _encode(obj: Any, blobs: list[bytes]) -> Any:
    if isinstance(obj, bytes | bytearray | memoryview):
        blobs.append(bytes(obj))
        return {"$blob": len(blobs) - 1}
    if isinstance(obj, list | tuple):
        return [_encode(x, blobs) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _encode(v, blobs) for k, v in obj.items()}
    if hasattr(obj, "item") and not isinstance(obj, str):  # numpy scalars
        return obj.item()
    return obj


def _decode(obj: Any, blobs: list[bytes]) -> Any:
    if isinstance(obj, list):
        return [_decode(x, blobs) for x in obj]
    if isinstance(obj, dict):
        if len(obj) == 1 and isinstance(obj.get("$blob"), int) and 0 <= obj["$blob"] < len(blobs):
            return blobs[obj["$blob"]]
        return {k: _decode(v, blobs) for k, v in obj.items()}
    return obj


def _read_exact(stream, size: int) -> bytes:
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("short message")
    return body


def _read_msg(stream, limit: int = MAX_REPLY) -> Any:
    """One message: <head size, blob count> (u64 each), the blob sizes, the JSON head, the blobs."""
    head = stream.read(16)
    if len(head) < 16:
        raise EOFError("closed")
    n_head, n_blobs = struct.unpack("<QQ", head)
    if n_blobs > 1024 or n_head > limit:
        raise ValueError(f"malformed message ({n_head} bytes, {n_blobs} blobs)")
    sizes = struct.unpack(f"<{n_blobs}Q", _read_exact(stream, 8 * n_blobs)) if n_blobs else ()
    if n_head + sum(sizes) > limit:
        raise ValueError(f"message of {n_head + sum(sizes)} bytes is over the limit of {limit}")
    obj = json.loads(_read_exact(stream, n_head))
    return _decode(obj, [_read_exact(stream, s) for s in sizes])


def _write_msg(stream, obj: Any) -> None:
    blobs: list[bytes] = []
    head = json.dumps(_encode(obj, blobs)).encode()
    stream.write(struct.pack("<QQ", len(head), len(blobs)) + b"".join(struct.pack("<Q", len(b)) for b in blobs) + head)
    for b in blobs:
        stream.write(b)
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
            ref, args = _read_msg(proto_in, limit=1 << 62)
        except (EOFError, OSError, ValueError):
            return
        try:
            module, _, name = ref.partition(":")
            result = getattr(importlib.import_module(module), name)(*args)
            answer = [True, result]
        except MemoryError:
            answer = [False, ["MemoryError", "out of memory (sandbox limit)", "pdf_too_complex"]]
        except Exception as e:
            answer = [False, [type(e).__name__, f"{e}"[:1000] or traceback.format_exc(limit=2)[-1000:],
                              getattr(e, "reason", None)]]
        _write_msg(proto_out, answer)


class Sandbox:
    """A child Python process (`python -m curation.stages.ingest.pdf.sandbox`) speaking JSON plus byte blobs.

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
            _write_msg(proc.stdin, [ref, list(args)])
        except (OSError, ValueError) as e:
            self.kill()
            raise SandboxCrash(f"parser process is gone: {e}") from e
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise SandboxTimeout(f"{ref.rsplit(':', 1)[-1]} did not finish within {timeout:.0f} s")
        try:
            ok, value = _read_msg(proc.stdout)
            if not ok:
                kind, message, reason = (str(value[0]), str(value[1]), None if value[2] is None else str(value[2]))
        except (EOFError, OSError, ValueError, TypeError, IndexError) as e:
            code = proc.poll()
            self.kill()
            raise SandboxCrash(f"parser process died or answered garbage (exit code {code}): {e}") from e
        if not ok:
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
    """The same call without a child process (for tests and debugging; no time limit), with the same encoding."""
    module, _, name = ref.partition(":")
    result = getattr(importlib.import_module(module), name)(*args)
    blobs: list[bytes] = []
    return _decode(json.loads(json.dumps(_encode(result, blobs))), blobs)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 4096)
