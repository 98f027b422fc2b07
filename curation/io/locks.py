"""Exclusive locks for a corpus and a run folder: `flock` on a lock file, released by the kernel when the holder
dies, so there is no stale lock to take over and no takeover race. Design: docs/DESIGN.md#corpus-commits.

`flock` needs a local filesystem or one that forwards it (NFSv4 with lock support, Lustre, GPFS); object stores
have no locks, so a run folder on `s3://`/`hdfs://` is not locked (one writer per output there is the
operator's rule).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from curation.io import fs


class Locked(RuntimeError):
    """Another writer holds the lock; the message names it (pid, host, since)."""


@contextmanager
def exclusive(path: str, what: str, error: type[Locked] = Locked) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed) for the block, or raise `error` at once."""
    if fs.is_uri(path):
        yield
        return
    from curation.io.manifest import now

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except (OSError, ValueError):
            holder = {}
        os.close(fd)
        raise error(f"{what} is locked by {holder or 'another process'} ({path})") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now()}).encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
