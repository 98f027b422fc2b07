"""Text-accuracy metrics against known text: CAR, BLEU-4 and word F1 (per page or per document).

Definitions (docs/PAPERS.md 1a, "BLEU/CAR hyper-parameters not given" -> ours):
- normalisation: NFKC (ligatures such as "ﬁ" become "fi"), soft hyphens dropped, every whitespace run -> one space;
- CAR = max(0, 1 - Levenshtein(pred, truth) / len(truth)) on characters; sensitive to reading order;
- BLEU = document-level BLEU-4 on whitespace tokens, uniform weights, brevity penalty, add-one smoothing of the
  higher-order precisions (so one bad 4-gram does not zero a short page) — sacreBLEU-like, not identical;
- word F1 = bag-of-words F1 (order-insensitive): tells reading-order differences apart from garbage.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from pathlib import Path

_WS = re.compile(r"\s+")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").replace("\x02", "").replace("\u00ad", "")
    return _WS.sub(" ", text).strip()


def levenshtein(a: str, b: str) -> int:
    try:
        from rapidfuzz.distance import Levenshtein

        return int(Levenshtein.distance(a, b))
    except ImportError:  # slow pure-Python fallback, O(len(a) * len(b))
        if len(a) < len(b):
            a, b = b, a
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]


def car(pred: str, truth: str) -> float:
    """Character accuracy rate of `pred` against `truth` (both normalised here)."""
    p, t = normalise(pred), normalise(truth)
    if not t:
        return 1.0 if not p else 0.0
    return max(0.0, 1.0 - levenshtein(p, t) / len(t))


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu(pred: str, truth: str, max_n: int = 4) -> float:
    """BLEU-4 in [0, 1] of `pred` against one reference `truth`."""
    p, t = normalise(pred).split(), normalise(truth).split()
    if not t:
        return 1.0 if not p else 0.0
    if not p:
        return 0.0
    log_prec = 0.0
    for n in range(1, max_n + 1):
        pc, tc = _ngrams(p, n), _ngrams(t, n)
        match = sum(min(c, tc[g]) for g, c in pc.items())
        total = max(0, len(p) - n + 1)
        if n == 1:
            if match == 0:
                return 0.0
            log_prec += math.log(match / total)
        else:
            log_prec += math.log((match + 1) / (total + 1))
    bp = 1.0 if len(p) >= len(t) else math.exp(1 - len(t) / len(p))
    return bp * math.exp(log_prec / max_n)


def word_f1(pred: str, truth: str) -> float:
    p, t = Counter(normalise(pred).split()), Counter(normalise(truth).split())
    if not t:
        return 1.0 if not p else 0.0
    match = sum((p & t).values())
    if match == 0:
        return 0.0
    prec, rec = match / sum(p.values()), match / sum(t.values())
    return 2 * prec * rec / (prec + rec)


def page_scores(pred: str, truth: str) -> dict[str, float]:
    return {"car": car(pred, truth), "bleu": bleu(pred, truth), "word_f1": word_f1(pred, truth)}


def reference_pages(path: str | Path) -> list[str]:
    """Page texts of a pdftotext output file (pages end with a form feed)."""
    pages = Path(path).read_text(encoding="utf-8", errors="replace").split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    return pages
