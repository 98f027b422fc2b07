"""Word-level differences between duplicates and the contained span inside a container.

Results are lists of (text, kind) segments; templates render them with escaping, so document text
never becomes markup. Inputs are cut to MAX_WORDS so a pathological 10 MB document cannot stall a page.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

MAX_WORDS = 4000
_TOKEN = re.compile(r"\S+|\s+")

Segment = tuple[str, str]  # (text, kind) with kind in same | changed | mark


def _tokens(text: str) -> list[str]:
    toks = _TOKEN.findall(text or "")
    words = 0
    for i, t in enumerate(toks):
        if not t.isspace():
            words += 1
            if words > MAX_WORDS:
                return toks[:i]
    return toks


def _words(toks: list[str]) -> tuple[list[str], list[int]]:
    idx = [i for i, t in enumerate(toks) if not t.isspace()]
    return [toks[i] for i in idx], idx


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for text, kind in segments:
        if out and out[-1][1] == kind:
            out[-1] = (out[-1][0] + text, kind)
        elif text:
            out.append((text, kind))
    return out


def _paint(toks: list[str], idx: list[int], spans: list[tuple[int, int]], inside: str, outside: str) -> list[Segment]:
    """Mark words whose index falls in `spans` `inside`, others `outside`; whitespace joins a run only
    when the words on both sides have the same kind (else it stays plain), so marks hug the words."""
    word_kind = [outside] * len(idx)
    for a, b in spans:
        for w in range(a, b):
            word_kind[w] = inside
    kinds = ["same"] * len(toks)
    pos = {t: w for w, t in enumerate(idx)}
    for t in range(len(toks)):
        if t in pos:
            kinds[t] = word_kind[pos[t]]
    for t in range(len(toks)):
        if t not in pos:
            before = next((kinds[u] for u in range(t - 1, -1, -1) if u in pos), None)
            after = next((kinds[u] for u in range(t + 1, len(toks)) if u in pos), None)
            kinds[t] = before if before == after and before is not None else "same"
    return _merge(list(zip(toks, kinds, strict=True)))


def word_diff(base: str, other: str) -> tuple[list[Segment], list[Segment], float]:
    """Both texts as segments with the words that differ marked `changed`, and the word-level similarity."""
    bt, ot = _tokens(base), _tokens(other)
    bw, bi = _words(bt)
    ow, oi = _words(ot)
    sm = SequenceMatcher(None, bw, ow, autojunk=False)
    same_b, same_o = [], []
    for block in sm.get_matching_blocks():
        if block.size:
            same_b.append((block.a, block.a + block.size))
            same_o.append((block.b, block.b + block.size))
    left = _paint(bt, bi, same_b, "same", "changed")
    right = _paint(ot, oi, same_o, "same", "changed")
    return left, right, sm.ratio()


def containment(container: str, contained: str, min_run: int = 3) -> tuple[list[Segment], float]:
    """The container with every run of >= min_run words shared with `contained` marked, and the covered share."""
    ct = _tokens(container)
    cw, ci = _words(ct)
    inner, _ = _words(_tokens(contained))
    sm = SequenceMatcher(None, cw, inner, autojunk=False)
    spans = [(b.a, b.a + b.size) for b in sm.get_matching_blocks() if b.size >= min_run]
    covered = sum(b - a for a, b in spans) / max(len(inner), 1)
    return _paint(ct, ci, spans, "mark", "same"), min(covered, 1.0)


def truncated(text: str | None) -> bool:
    """True when diffing cut the text (the page says so)."""
    return len(_tokens(text or "")) < len(_TOKEN.findall(text or ""))
