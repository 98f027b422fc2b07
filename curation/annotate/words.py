"""Word tokens for the heuristic rules, computed for a whole batch with a few RE2 passes.

The Gopher/FineWeb rules count words *and* punctuation tokens (datatrove tokenises English with spaCy's
rule-based tokenizer, where "end." is two tokens), so the alphabetic-word ratio and the n-gram
statistics depend on how punctuation is split. This tokenizer approximates spaCy's English rules
without a per-document Python loop:

* punctuation at the edges of a whitespace-separated piece becomes one token per character
  ("end." -> "end", "."; "())" -> "(", ")", ")"); a run of dots stays one token ("...");
* punctuation *inside* a piece stays in it ("3.14", "1,000", "info.html", "001/026"), except spaCy's
  infix rules: hyphens between letters ("e-mail" -> "e", "-", "mail"), ":<>=/" before a letter
  ("and/or"), commas between letters, "+-*^" between digits; contractions split before the
  apostrophe ("there's" -> "there", "'s");
* URL-like pieces (scheme:// or www.) stay one token, as spaCy's URL rule keeps them.

Known differences from spaCy: "don't" becomes "don", "'t" (spaCy: "do", "n't"), abbreviations such as
"Dr." lose their final dot to a separate token, and spaCy's special cases (emoticons, "a.m.") are absent.
The benchmark measures what these differences do to keep/drop agreement.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.annotate.textops import WORD_CHARS, Parts

NW = "[^" + WORD_CHARS + r"\x{E001}\\]"  # not a word character; the contraction placeholder and "\\" (TeX
# commands such as \\rotate stay one token in spaCy) count as word characters
#: Infix rules (spaCy's English infixes): these split inside a piece; other inner punctuation stays.
_INFIX_CANDIDATE = r"[\pL\pN][-:<>=/,'\x{2019}+*^][\pL\pN]"
_INFIX = [
    (r"(\pL)['\x{2019}](\pL)", "\\1 \uE001\\2"),  # contractions split before the apostrophe: there 's
    (r"(\pL)-(\pL)", r"\1 - \2"),
    (r"([\pL\pN])([:<>=/])(\pL)", r"\1 \2 \3"),
    (r"(\pL),(\pL)", r"\1 , \2"),
    (r"(\pN)([-+*^])(\pN)", r"\1 \2 \3"),
]
#: Tokens made only of punctuation and ASCII symbols (datatrove's PUNCTUATION set, roughly).
SYMBOL_TOKEN = r"^[\pP$+<=>^`|~\x{25BA}\pC]+$"
ALPHA = r"\pL"
URL_TOKEN = r"^[(\[<\"'\x{201C}]*(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)"


def _split(arr: pa.Array, parents: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Split on whitespace, flatten, drop the empty strings that runs of whitespace leave."""
    lists = pc.utf8_split_whitespace(arr)
    flat = pc.list_flatten(lists)
    if len(flat) == 0:
        return flat, np.zeros(0, dtype=np.int64)
    out_parents = parents[pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)]
    keep = pc.greater(pc.binary_length(flat), 0)
    if pc.all(keep).as_py():
        return flat, out_parents
    return flat.filter(keep), out_parents[keep.to_numpy(zero_copy_only=False)]


def tokenize(texts: pa.Array) -> Parts:
    """All word and punctuation tokens of every text, flattened, with their document index.

    Whitespace splits first. URL-like pieces stay one token (spaCy's URL rule) apart from brackets,
    quotes and punctuation at their ends. Other pieces get the infix rules, then lose their leading and
    trailing punctuation runs, which become one token per character (a run of dots stays one token).
    """
    pieces, parents = _split(texts, np.arange(len(texts), dtype=np.int64))
    if len(pieces) == 0:
        return Parts(pieces, parents, len(texts))
    # Each rule runs only on the pieces it can change (found with one cheap match), not on every piece.
    t = pieces
    infix = pc.match_substring_regex(t, _INFIX_CANDIDATE)
    if pc.any(infix).as_py():
        sub = t.filter(infix)
        for pattern, replacement in _INFIX:
            # Two passes: RE2 replaces non-overlapping matches, so "a-b-c" needs a second pass.
            sub = pc.replace_substring_regex(sub, pattern, replacement)
            sub = pc.replace_substring_regex(sub, pattern, replacement)
        t = pc.replace_with_mask(t, infix, sub)
    edge = pc.match_substring_regex(t, f"^{NW}|{NW}$")
    if pc.any(edge).as_py():
        sub = t.filter(edge)
        sub = pc.replace_substring_regex(sub, f"^({NW}+)", r"\1 ")
        sub = pc.replace_substring_regex(sub, f"({NW}+)$", r" \1")
        t = pc.replace_with_mask(t, edge, sub)
    url = pc.match_substring_regex(pieces, URL_TOKEN)
    if pc.any(url).as_py():
        u = pieces.filter(url)
        u = pc.replace_substring_regex(u, r"^([(\[<\"'\x{201C}])", r"\1 ")
        u = pc.replace_substring_regex(u, r"([.,;:!?)\]>\"'\x{201D}]+)$", r" \1")
        t = pc.replace_with_mask(t, url, u)
    tokens, parents = _split(t, parents)
    punct = pc.match_substring_regex(tokens, f"^{NW}+$")
    if pc.any(punct).as_py():
        runs = pc.replace_substring_regex(tokens.filter(punct), r"(\.\.+|[^\s])", r" \1 ")
        tokens, parents = _split(pc.replace_with_mask(tokens, punct, runs), parents)
    return Parts(tokens, parents, len(texts))
