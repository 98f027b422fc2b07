"""Bad words: matches from the LDNOOBW list of each document's language (the lists C4 filtered with).

The lists ship in `curation/resources/badwords/` (CC BY 4.0, see the README there). A document is matched
against the list of its language (language id's answer, or the input's `language` column): one-word
entries against its word tokens (words.py, lower-cased), several-word entries as whole-word phrases in the
lower-cased text, and for languages written without spaces (zh, ja, th) every entry as a substring, as
C4's and datatrove's filters do. A document whose language has no list gets null. C4 dropped a page on a
single match (`max_words: 0`); FineWeb's pipeline has no such step, so the default only annotates.
Design: docs/DESIGN.md#annotate-line-cleaning (last part)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation import resources
from curation.engine.options import opt
from curation.stages.annotate.rules.base import Mode, Rule, RuleSet, TextBatch, register

#: Languages written without spaces between words: entries match as substrings.
NO_SPACES = frozenset({"zh", "ja", "th"})
#: lid.176 code -> list files (LDNOOBW names Tagalog `fil`; Quebec French has its own list).
FILES = {"tl": ("fil",), "fil": ("fil",), "fr": ("fr", "fr-CA-u-sd-caqc")}
BOUNDARY = r"[^\pL\pN\pM_]"


@cache
def word_list(lang: str) -> tuple[frozenset[str], tuple[str, ...]] | None:
    """(one-word entries, several-word entries) of a language, lower-cased; None when no list ships for it."""
    singles: set[str] = set()
    phrases: list[str] = []
    found = False
    for name in FILES.get(lang, (lang,)):
        node = resources.files("badwords", f"{name}.txt")
        if not node.is_file():
            continue
        found = True
        for line in node.read_text(encoding="utf-8").splitlines():
            entry = line.strip().lower()
            if not entry or not re.search(r"[^\W\d_]", entry):
                continue  # no letter at all (zh's "13."): as a substring it would hit ordinary numbers
            if lang not in NO_SPACES and re.fullmatch(r"\w+", entry):
                singles.add(entry)
            else:
                phrases.append(entry)
    return (frozenset(singles), tuple(sorted(set(phrases)))) if found else None


@cache
def _phrase_pattern(lang: str) -> str | None:
    lists = word_list(lang)
    if not lists or not lists[1]:
        return None
    alts = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in lists[1])
    return f"(?:{alts})" if lang in NO_SPACES else f"(?:^|{BOUNDARY})(?:{alts})(?:{BOUNDARY}|$)"


@dataclass
class BadWordsConfig:
    mode: Mode = opt("annotate", "drop | annotate | off (see gopher_quality.mode).")
    languages: list[str] = opt([], "Languages whose lists are used (lid.176 codes); empty: every shipped list.")
    max_words: float | None = opt(0, "Most bad-word matches (C4: 0, a single match drops the page).")


@register
class BadWords(RuleSet):
    name = "badwords"
    doc = "Bad words from the LDNOOBW list of the document's language (C4's filter)."
    Config = BadWordsConfig
    order = 45
    rules = (Rule("words", "bad-word matches in the list of the document's language (null: no list for it)",
                  None, "max_words"),)

    def compute(self, tb: TextBatch) -> dict[str, np.ndarray]:
        out = np.full(tb.n, np.nan)
        langs = tb.languages
        if langs is None:
            return {"words": out}
        wanted = set(self.cfg.languages)
        by_lang: dict[str, list[int]] = {}
        for i, lang in enumerate(langs):
            if lang and (not wanted or lang in wanted) and word_list(lang) is not None:
                by_lang.setdefault(lang, []).append(i)
        if not by_lang:
            return {"words": out}
        words = tb.words
        codes, distinct = words.encoded
        lower = pc.utf8_lower(distinct) if len(distinct) else distinct
        doc_lang = np.full(tb.n, -1, dtype=np.int64)
        for k, idx in enumerate(by_lang.values()):
            doc_lang[idx] = k
            out[idx] = 0.0
        for k, (lang, idx) in enumerate(by_lang.items()):
            singles, _ = word_list(lang)  # type: ignore[misc]
            if singles and len(codes):
                hit = pc.is_in(lower, value_set=pa.array(sorted(singles), pa.string())).to_numpy(zero_copy_only=False)
                mask = hit[codes] & (doc_lang[words.parents] == k)
                out += np.nan_to_num(words.count(mask))
            pattern = _phrase_pattern(lang)
            if pattern:
                sub = pc.utf8_lower(tb.texts.take(pa.array(idx)))
                out[idx] += pc.count_substring_regex(sub, pattern).to_numpy(zero_copy_only=False)
        return {"words": out}
