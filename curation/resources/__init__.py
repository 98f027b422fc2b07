"""Files shipped inside the package (models, schemas, the log4j config), found through importlib.resources.

`Path(__file__)` breaks when the code runs from the zip that `spark-submit --py-files` ships (the path points
inside the zip), so every bundled file is reached from here: `files()` for reading, `path()` where a library
needs a real file (fastText, the JVM). In a zip, `path()` extracts the file once per process into a private
temporary folder, named by its content hash. Why and how: docs/ARCHITECTURE.md#bundled-files.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_EXTRACTED: dict[str, Path] = {}
_LOCK = threading.Lock()


def files(*parts: str, package: str = "curation.resources") -> Traversable:
    """The bundled resource `parts` under `package` (a folder or a file), readable from disk or a zip."""
    node = resources.files(package)
    for part in parts:
        node = node / part
    return node


def path(*parts: str, package: str = "curation.resources") -> Path:
    """A real file for the bundled resource: the file itself on disk, else a copy extracted once per process."""
    node = files(*parts, package=package)
    if isinstance(node, Path):
        return node
    key = f"{package}:{'/'.join(parts)}"
    with _LOCK:
        if key not in _EXTRACTED:
            if not node.is_file():
                raise FileNotFoundError(f"bundled file not found: {key}")
            data = node.read_bytes()
            folder = Path(tempfile.gettempdir()) / f"curation-resources-{os.getuid()}"
            folder.mkdir(mode=0o700, exist_ok=True)
            target = folder / f"{hashlib.sha256(data).hexdigest()[:16]}-{parts[-1]}"
            if not target.is_file():
                tmp = target.with_name(f".{target.name}.{os.getpid()}")
                tmp.write_bytes(data)
                os.replace(tmp, target)
            _EXTRACTED[key] = target
        return _EXTRACTED[key]
