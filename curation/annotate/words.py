"""Word tokens for the heuristic rules, computed for a whole batch with a few RE2 passes.

The Gopher/FineWeb rules count words *and* punctuation tokens (datatrove tokenises English with spaCy's
rule-based tokenizer, where "end." is two tokens), so the alphabetic-word ratio and the n-gram
statistics depend on how punctuation is split. This tokenizer approximates spaCy's English rules
without a per-document Python loop:

* punctuation at the edge of a word is its own token, one character each ("end." -> "end", ".");
  runs of dots stay together ("..." is one token);
* punctuation *inside* a word is kept in it: "3.14", "1,000", "U.S.", "don't", "example.com";
  hyphens inside words are split ("e-mail" -> "e", "-", "mail"), as spaCy does.

Known differences from spaCy: URLs are split at "/" and ":", contractions stay one token ("don't"
instead of "do", "n't"), and abbreviations such as "Dr." lose their final dot to a separate token.
The benchmark measures what these differences do to keep/drop agreement.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from curation.annotate.textops import SPACE_CHARS, WORD_CHARS, Parts

W = f"[{WORD_CHARS}]"
#: Placeholders (private-use code points, one per protected character) keep infix punctuation inside a
#: word while the edges are split; each is one code point, so token lengths are unchanged, and the
#: mapping is one-to-one, so equal tokens stay equal. Tokens are never shown, so they are not restored.
_PROTECT = [
    (r"(\pN)\.(\pN)", "\uE000"),
    (r"(\pN),(\pN)", "\uE001"),
    (r"(\pN):(\pN)", "\uE002"),
    (rf"({W})\.({W})", "\uE000"),
    (r"(\pL)'(\pL)", "\uE003"),
    (r"(\pL)\x{2019}(\pL)", "\uE004"),
]
_PLACEHOLDERS = r"\x{E000}-\x{E004}"
#: One token per punctuation character, except runs of dots.
_SPLIT_PUNCT = rf"(\.+|[^{WORD_CHARS}{SPACE_CHARS}{_PLACEHOLDERS}])"
#: Tokens made only of punctuation and ASCII symbols (datatrove's PUNCTUATION set, roughly).
SYMBOL_TOKEN = r"^[\pP$+<=>^`|~\x{25BA}\pC]+$"
ALPHA = r"\pL"


def tokenize(texts: pa.Array) -> Parts:
    """All word and punctuation tokens of every text, flattened, with their document index."""
    t = texts
    for pattern, placeholder in _PROTECT:
        # Two passes: RE2 replaces non-overlapping matches, so "a.b.c" needs a second pass for ".c".
        t = pc.replace_substring_regex(t, pattern, rf"\1{placeholder}\2")
        t = pc.replace_substring_regex(t, pattern, rf"\1{placeholder}\2")
    t = pc.replace_substring_regex(t, _SPLIT_PUNCT, r" \1 ")
    t = pc.utf8_trim_whitespace(t)
    lists = pc.utf8_split_whitespace(t)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype("int64")
    parts = Parts(flat, parents, len(texts))
    nonempty = parts.lengths > 0  # runs of whitespace split into empty strings
    return parts if nonempty.all() else parts.select(nonempty)
