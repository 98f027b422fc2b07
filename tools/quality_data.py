"""Training data for the default fastText quality classifier, chosen from redistributable text found offline.

DCLM's classifier contrasts "instruction-like, well-written" positives (OpenHermes 2.5, r/ELI5) with
random web text (RefinedWeb); neither is available offline. The shipped default contrasts:

positives (well-written reference prose, licences that allow redistribution):
  * the Python Language Reference topics bundled with CPython (`pydoc_data.topics`, PSF licence);
  * long docstrings of CPython's standard library modules, prose paragraphs only (PSF licence);
  * English Wikipedia articles among the evaluation samples (`near_dup` source articles and
    `langid` en.* texts, CC BY-SA), when the external evaluation set is given (--ext-dir).
negatives (listings, boilerplate, spam):
  * Debian changelogs and package records (`/usr/share/doc/*/changelog.Debian.gz`,
    `/var/lib/dpkg/status`; Debian packages' own licences), i.e. bullet lists and key: value listings;
  * installed Python distributions' METADATA headers and RECORD file listings;
  * every visible text of the Common Crawl / ClueWeb pages in sample_data/warc (navigation, shop and
    spam pages, many not English), extracted without main-content detection.

This makes the model mostly a "prose vs. listing/boilerplate" detector with a bias toward technical
English; notes/issue-5.md states the limits. Everything is chunked into documents of 40-400 words and
sampled with a fixed seed, so the same machine gives the same selection.
"""

from __future__ import annotations

import ast
import gzip
import itertools
import json
import random
import re
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

_PARA = re.compile(r"\n\s*\n")
_CODEISH = re.compile(r"^\s*(>>>|\.\.\.|[$#]|\w+\(.*\)\s*$|[{}\[\]])")


def chunks(text: str, min_words: int = 40, max_words: int = 400) -> Iterator[str]:
    """Paragraph-aligned pieces of min..max words (longer paragraphs are cut at max_words)."""
    buf: list[str] = []
    count = 0
    for para in _PARA.split(text):
        words = para.split()
        if not words:
            continue
        while len(words) > max_words:
            if count >= min_words:
                yield "\n\n".join(buf)
            buf, count = [], 0
            yield " ".join(words[:max_words])
            words = words[max_words:]
        if count + len(words) > max_words and count >= min_words:
            yield "\n\n".join(buf)
            buf, count = [], 0
        buf.append(para.strip() if len(words) == len(para.split()) else " ".join(words))
        count += len(words)
    if count >= min_words:
        yield "\n\n".join(buf)


def _prose_only(text: str) -> str:
    """Drop code-like and heavily indented lines from a docstring, keep its prose paragraphs."""
    keep = []
    for para in _PARA.split(text):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if not lines:
            continue
        codeish = sum(bool(_CODEISH.match(ln)) or ln.startswith("        ") for ln in lines)
        if codeish / len(lines) > 0.2:
            continue
        keep.append(" ".join(ln.strip() for ln in lines))
    return "\n\n".join(keep)


# -- positives ---------------------------------------------------------------------------------------

def python_reference_topics() -> list[str]:
    import pydoc_data.topics as topics

    return [_prose_only(t) for _, t in sorted(topics.topics.items())]


def stdlib_docstrings(min_words: int = 60) -> list[str]:
    """Docstrings of standard-library source files (parsed, not imported), prose paragraphs only."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if any(part in {"test", "tests", "idlelib", "site-packages", "lib2to3", "turtledemo"} for part in path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    prose = _prose_only(doc)
                    if len(prose.split()) >= min_words:
                        out.append(prose)
    return out


def wikipedia_samples(ext_dir: Path | None) -> list[str]:
    if ext_dir is None or not ext_dir.is_dir():
        return []
    out = []
    for p in sorted((ext_dir / "near_dup" / "clough_stevenson_2009" / "corpus").glob("orig_task*.txt")):
        out.append(p.read_bytes().decode("utf-8", "replace"))
    for p in sorted((ext_dir / "langid" / "langid_py_tests").glob("en.*.txt")):
        text = p.read_text(encoding="utf-8", errors="replace")
        out.append("\n".join(ln for ln in text.splitlines() if not ln.startswith("#")))
    return out


# -- negatives ---------------------------------------------------------------------------------------

def debian_changelogs(limit: int = 400) -> list[str]:
    out = []
    for p in sorted(Path("/usr/share/doc").glob("*/changelog.Debian.gz"))[:limit]:
        try:
            out.append(gzip.decompress(p.read_bytes()).decode("utf-8", "replace"))
        except (OSError, EOFError):
            continue
    return out


def dpkg_records(path: Path = Path("/var/lib/dpkg/status")) -> list[str]:
    if not path.is_file():
        return []
    records = path.read_text(encoding="utf-8", errors="replace").split("\n\n")
    # group 3 package records per document so each has enough words
    return ["\n\n".join(records[i:i + 3]) for i in range(0, len(records), 3)]


def python_package_listings() -> list[str]:
    out = []
    for dist in sorted(metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        meta = dist.read_text("METADATA") or ""
        header = meta.split("\n\n", 1)[0]
        if header:
            out.append(header)
        record = dist.read_text("RECORD") or ""
        if record:
            out.append("\n".join(record.splitlines()[:80]))
    return out


def warc_page_texts(paths: Iterable[Path]) -> list[str]:
    """All visible text of HTML responses (no main-content extraction: menus and footers stay)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from warcio.archiveiterator import ArchiveIterator

    out = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                for rec in ArchiveIterator(fh, arc2warc=True):
                    if rec.rec_type != "response":
                        continue
                    body = rec.content_stream().read()
                    html = bytes_to_str(body, detect_encoding(body))
                    text = extract_plain_text(html, main_content=False, alt_texts=False, links=True, list_bullets=True)
                    if len(text.split()) >= 40:
                        out.append(text)
        except Exception as e:  # a corrupt sample file should not stop selection
            print(f"skipping {path}: {e}", file=sys.stderr)
    return out


def select(sample_dir: Path | None = None, ext_dir: Path | None = None, max_per_class: int = 6000,
           seed: int = 0) -> tuple[list[str], list[str], dict]:
    """(positives, negatives, stats): chunked, balanced, shuffled with `seed`."""
    pos_sources = {
        "python_reference_topics": python_reference_topics(),
        "stdlib_docstrings": stdlib_docstrings(),
        "wikipedia_samples": wikipedia_samples(ext_dir),
    }
    warcs = sorted((sample_dir / "warc").glob("*.warc*")) if sample_dir else []
    neg_sources = {
        "debian_changelogs": debian_changelogs(),
        "dpkg_records": dpkg_records(),
        "python_package_listings": python_package_listings(),
        "warc_pages": warc_page_texts(p for p in warcs if not p.name.endswith((".wat.gz", ".wet.gz"))),
    }
    rng = random.Random(seed)

    def pool(sources: dict[str, list[str]]) -> tuple[list[str], dict[str, int]]:
        """Round-robin over sources (each shuffled), so one big source cannot dominate a class."""
        per_source, counts = [], {}
        for name, texts in sources.items():
            pieces = [c for t in texts for c in chunks(t)]
            rng.shuffle(pieces)
            counts[name] = len(pieces)
            per_source.append(pieces)
        docs = [p for row in itertools.zip_longest(*per_source) for p in row if p is not None]
        return docs, counts

    pos, pos_counts = pool(pos_sources)
    neg, neg_counts = pool(neg_sources)
    n = min(len(pos), len(neg), max_per_class)
    pos, neg = pos[:n], neg[:n]
    rng.shuffle(pos)
    rng.shuffle(neg)
    stats = {"chunks_available": {"positives": pos_counts, "negatives": neg_counts}, "per_class": n, "seed": seed}
    return pos, neg, stats


def write_jsonl(path: Path, texts: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            fh.write(json.dumps({"id": f"{path.stem}-{i}", "text": t}, ensure_ascii=False) + "\n")
