"""Prompt templates as versioned files: `prompts/<name>.v<version>.txt`.

A template starts with `# key: value` metadata lines (name, version, parse mode), then a line `---`, then
the body with one `{document}` placeholder. The prompt is the body with the document substituted by plain
string replacement (braces in documents are safe), so it is byte-identical across runs. The version string
that goes into the cache key and the output rows is `<name>-v<version>+<sha256 of the body, 8 hex>`: editing
a template without bumping its version still changes the key, so stale rewrites are never reused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PLACEHOLDER = "{document}"
START, END = "<improved response starts>", "<improved response ends>"
THINK_START, THINK_END = "<thinking starts>", "<thinking ends>"


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    parse: str
    body: str
    path: str

    @property
    def id(self) -> str:
        digest = hashlib.sha256(self.body.encode("utf-8")).hexdigest()[:8]
        return f"{self.name}-v{self.version}+{digest}"

    def build(self, document: str) -> str:
        return self.body.replace(PLACEHOLDER, document)


def parse_template(text: str, path: str = "<string>") -> PromptTemplate:
    head, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"{path}: a template needs metadata lines, then a line '---', then the body")
    meta = {}
    for line in head.splitlines():
        if line.startswith("# ") and ":" in line:
            key, _, value = line[2:].partition(":")
            meta.setdefault(key.strip(), value.strip())
    missing = [k for k in ("name", "version", "parse") if k not in meta]
    if missing:
        raise ValueError(f"{path}: missing metadata {missing}")
    if meta["parse"] not in ("strict", "lenient"):
        raise ValueError(f"{path}: parse must be strict or lenient, got {meta['parse']!r}")
    if body.count(PLACEHOLDER) != 1:
        raise ValueError(f"{path}: the body must contain {PLACEHOLDER} exactly once")
    return PromptTemplate(meta["name"], meta["version"], meta["parse"], body.rstrip("\n") + "\n", path)


@cache
def load_template(name: str) -> PromptTemplate:
    """`rewire`, `simple`, `rewire.v1` (bundled, read through importlib.resources) or a path to a template file."""
    p = Path(name)
    if p.is_file():
        return parse_template(p.read_text(encoding="utf-8"), str(p))
    from curation import resources

    bundled = {f.name: f for f in resources.files("prompts", package="curation.stages.rewrite").iterdir()
               if f.name.endswith(".txt")}
    if ".v" in name:
        matches = [f"{name}.txt"] if f"{name}.txt" in bundled else []
    else:
        matches = [n for n in bundled if n.split(".v")[0] == name]
    if not matches:
        known = ", ".join(sorted({n.split(".v")[0] for n in bundled}))
        raise ValueError(f"unknown prompt template {name!r} (known: {known}, or a file path)")
    best = max(matches, key=lambda n: int(n.split(".v")[1].split(".")[0]))
    return parse_template(bundled[best].read_text(encoding="utf-8"), f"bundled:{best}")
