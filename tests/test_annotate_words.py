"""The batch word tokenizer (curation/stages/annotate/words.py) against its reference: the same spaCy-like rules
written as regex replacements per whitespace piece (the first, slower implementation). The numpy
version must give exactly the same tokens, in the same order, on random hostile text."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.stages.annotate import words
from curation.stages.annotate.words import NW, URL_TOKEN, _split, tokenize

_INFIX_CANDIDATE = r"[\pL\pN][-:<>=/,'\x{2019}+*^][\pL\pN]"
_INFIX = [
    (r"(\pL)['\x{2019}](\pL)", "\\1 '\\2"),  # contractions split before the apostrophe: there 's
    (r"(\pL)-(\pL)", r"\1 - \2"),
    (r"([\pL\pN])([:<>=/])(\pL)", r"\1 \2 \3"),
    (r"(\pL),(\pL)", r"\1 , \2"),
    (r"(\pN)([-+*^])(\pN)", r"\1 \2 \3"),
]


def reference_tokenize(texts: pa.Array) -> tuple[list[str], list[int]]:
    """The rules as regex passes over every piece (apostrophes of contractions become "'")."""
    pieces, parents = _split(texts, np.arange(len(texts), dtype=np.int64))
    if len(pieces) == 0:
        return [], []
    t = pieces
    for pattern, replacement in _INFIX:  # a placeholder keeps the apostrophe a word character below
        repl = replacement.replace("'", "\uE001")
        t = pc.replace_substring_regex(pc.replace_substring_regex(t, pattern, repl), pattern, repl)
    t = pc.replace_substring_regex(t, f"^({NW}+)", r"\1 ")
    t = pc.replace_substring_regex(t, f"({NW}+)$", r" \1")
    url = pc.match_substring_regex(pieces, URL_TOKEN)
    u = pc.replace_substring_regex(pieces, r"^([(\[<\"'\x{201C}])", r"\1 ")
    u = pc.replace_substring_regex(u, r"([.,;:!?)\]>\"'\x{201D}]+)$", r" \1")
    t = pc.if_else(url, u, t)
    tokens, parents = _split(t, parents)
    punct = pc.match_substring_regex(tokens, f"^{NW}+$")
    tokens, parents = _split(pc.if_else(punct, pc.replace_substring_regex(tokens, r"(\.\.+|[^\s])", r" \1 "), tokens),
                             parents)
    return [x.replace("\uE001", "'") for x in tokens.to_pylist()], parents.tolist()


def _random_texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = list("ab1 .,-'\n\t()[]\"/:<>=+*^#_\\") + [
        "\u201c", "\u201d", "\u00e9", "\u0301", "\u00a0", "\u2026", "\u00b2", "\U0001d400", "\U0001f600", "http://",
        "www.", "...", "\u3000", "\u2028", "\x1c", "\x85", "\u200b", "\u0416", "\u4e2d",
        "\u0558", "\u088f"]  # the last two: letters in Arrow's newer Unicode tables, not in RE2's
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(n)]


def test_tokenize_equals_regex_reference_on_random_text(monkeypatch):
    texts = _random_texts(1, 4000)
    arr = pa.array(texts + [None, ""], pa.string())
    arr = pc.fill_null(arr, "")
    got = tokenize(arr)
    want_tokens, want_parents = reference_tokenize(arr)
    assert got.values.to_pylist() == want_tokens
    assert got.parents.tolist() == want_parents
    monkeypatch.setattr(words, "CHUNK_BYTES", 500)  # cut in many memory-bounded chunks: same tokens
    chunked = tokenize(arr)
    assert chunked.values.to_pylist() == want_tokens and chunked.parents.tolist() == want_parents
    sliced = arr.slice(13, 500)  # a slice of a larger array (non-zero offset) gives the same tokens
    assert tokenize(sliced).values.to_pylist() == reference_tokenize(sliced)[0]


def test_tokenize_keeps_contraction_apostrophes_and_urls():
    parts = tokenize(pa.array(["They’re here (www.example.org/a-b).", "don't-stop 3-4 a/b", "...", "\\alpha-beta"]))
    assert parts.values.to_pylist() == ["They", "’re", "here", "(", "www.example.org/a-b", ")", ".",
                                        "don", "'t", "-", "stop", "3", "-", "4", "a", "/", "b", "...",
                                        "\\alpha", "-", "beta"]
    assert parts.parents.tolist() == [0] * 7 + [1] * 10 + [2] + [3] * 3


def test_tokenize_empty_and_plain_batches():
    assert len(tokenize(pa.array([], pa.string())).values) == 0
    assert len(tokenize(pa.array(["", "   "])).values) == 0
    plain = tokenize(pa.array(["only plain words here", "and here"]))
    assert plain.values.to_pylist() == ["only", "plain", "words", "here", "and", "here"]
    assert plain.parents.tolist() == [0, 0, 0, 0, 1, 1]
