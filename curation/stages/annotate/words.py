"""Word tokens for the heuristic rules, computed for a whole batch without a per-document Python loop.

Approximates spaCy's rule-based English tokenizer (which datatrove uses for the Gopher/FineWeb rules): edge
punctuation one token per character, spaCy's infix and contraction rules, URL-like pieces kept whole.
Design (the rules, how, known differences from spaCy): docs/DESIGN.md#word-tokens
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.stages.annotate.textops import WORD_CHARS, Parts

NW = "[^" + WORD_CHARS + r"\x{E001}\\]"  # not a word character; "\\" counts as one (TeX commands such as
# \\rotate stay one token in spaCy), and so does U+E001 (the former contraction placeholder)
#: Tokens made only of punctuation and ASCII symbols (datatrove's PUNCTUATION set, roughly).
SYMBOL_TOKEN = r"^[\pP$+<=>^`|~\x{25BA}\pC]+$"
ALPHA = r"\pL"
URL_TOKEN = r"^[(\[<\"'\x{201C}]*(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)"
CHUNK_BYTES = 4_000_000


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


def whitespace_pieces(texts: pa.Array) -> Parts:
    """The whitespace-separated pieces of every text (str.split()), with their document index."""
    pieces, parents = _split(texts, np.arange(len(texts), dtype=np.int64))
    return Parts(pieces, parents, len(texts))


def tokenize(texts: pa.Array, pieces: Parts | None = None) -> Parts:
    """All word and punctuation tokens of every text, flattened, with their document index.

    Whitespace splits first. Most pieces are plain words (letters and digits only): they are tokens as
    they are, so only the other pieces (typically a quarter) are cut, character by character, in
    `_cut_pieces`. `pieces`: the texts' `whitespace_pieces` when the caller has them already.
    """
    n = len(texts)
    split = pieces if pieces is not None else whitespace_pieces(texts)
    pieces, parents = split.values, split.parents
    if len(pieces) == 0:
        return Parts(pieces, parents, n, by_value=True)
    special = _has_non_word(pieces)
    special_idx = np.flatnonzero(special)
    if special_idx.size == 0:
        return Parts(pieces, parents, n, by_value=True)
    sub = pieces.filter(pa.array(special))
    rels, owners = [], []
    for a, b in _spans(sub, CHUNK_BYTES):  # bounded memory: the cutting holds a few arrays per character
        rel, owner = _cut_pieces(sub.slice(a, b - a))
        rels.append(rel)
        owners.append(owner + a)
    rel, owner = np.concatenate(rels), np.concatenate(owners)
    sub_count = np.bincount(owner, minlength=special_idx.size)
    per_piece = np.ones(len(pieces), dtype=np.int64)
    per_piece[special_idx] = sub_count
    start = np.cumsum(per_piece) - per_piece  # where each piece's tokens begin in the output
    total = int(per_piece.sum())
    # The tokens of a piece cover it exactly and pieces lie back to back in their UTF-8 buffer, so the
    # token array is that buffer with new offsets: plain pieces' starts and the cut points between them.
    piece_off = _offsets(pieces)
    tok_off = np.empty(total + 1, dtype=np.int64)
    tok_off[start[~special]] = piece_off[:-1][~special]
    rank = np.arange(owner.size) - (np.cumsum(sub_count) - sub_count)[owner]  # token's place within its piece
    tok_off[start[special_idx[owner]] + rank] = piece_off[special_idx[owner]] + rel
    tok_off[total] = piece_off[-1]
    values = pa.StringArray.from_buffers(total, pa.py_buffer(tok_off.astype(np.int32)), pieces.buffers()[2])
    return Parts(values, np.repeat(parents, per_piece), n, by_value=True)


def _offsets(arr: pa.Array) -> np.ndarray:
    """The value offsets of a string array (len + 1 of them), as int64."""
    return np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4).astype(np.int64)


def _spans(arr: pa.Array, max_bytes: int) -> list[tuple[int, int]]:
    """[a, b) ranges of a string array holding about max_bytes of text each (at least one element)."""
    ends = np.cumsum(pc.binary_length(arr).to_numpy(zero_copy_only=False).astype(np.int64))
    out, a = [], 0
    while a < len(arr):
        b = max(int(np.searchsorted(ends, (ends[a - 1] if a else 0) + max_bytes, side="right")), a + 1)
        out.append((a, b))
        a = b
    return out


def _has_non_word(pieces: pa.Array) -> np.ndarray:
    """Mask of pieces with a character other than letters and digits (such pieces are cut; NW decides
    how). Arrow's `utf8_is_alnum` (~3x cheaper than a regex) settles ASCII pieces; its Unicode tables
    are newer than RE2's, so non-ASCII pieces it calls alphanumeric are checked with NW itself."""
    alnum = pc.utf8_is_alnum(pieces).to_numpy(zero_copy_only=False)
    out = ~alnum
    check = np.flatnonzero(alnum & ~pc.string_is_ascii(pieces).to_numpy(zero_copy_only=False))
    if check.size:
        out[check] = pc.match_substring_regex(pieces.take(pa.array(check)), NW).to_numpy(zero_copy_only=False)
    return out


def _cut_pieces(pieces: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Where the tokens of whitespace-free pieces start (UTF-8 bytes from their piece's start), and the
    piece of each token.

    The pieces are cut character by character with numpy (no regex pass per piece): a token starts at
    the start of a piece; at every character of a piece's leading and trailing punctuation runs (a run
    of dots stays one token); at the first word character after a leading run; at an infix separator
    and the character after it; at a contraction's apostrophe. URL-like pieces are cut only after one
    leading bracket or quote and before their trailing punctuation.
    """
    m = len(pieces)
    offsets = _offsets(pieces)
    text = pieces.buffers()[2].slice(offsets[0], offsets[m] - offsets[0]).to_pybytes().decode("utf-8")
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    n_chars = pc.utf8_length(pieces).to_numpy(zero_copy_only=False).astype(np.int64)
    pend = np.cumsum(n_chars)
    pstart = pend - n_chars
    size = cp.size
    cls = _classes(cp)
    word, letter, num = (cls & _WORD) > 0, (cls & _LETTER) > 0, (cls & _NUM) > 0
    colon_like, arith = (cls & _COLON_LIKE) > 0, (cls & _ARITH) > 0
    first = np.zeros(size, dtype=bool)
    first[pstart] = True
    last = np.zeros(size, dtype=bool)
    last[pend - 1] = True
    inner = ~first & ~last
    prev_l, next_l = np.roll(letter, 1), np.roll(letter, -1)  # wrapped values only reach first/last chars
    prev_ln = prev_l | np.roll(num, 1)
    prev_n, next_n = np.roll(num, 1), np.roll(num, -1)
    apostrophe = inner & ((cp == 0x27) | (cp == 0x2019)) & prev_l & next_l
    sep = inner & (
        (((cp == 0x2D) | (cp == 0x2C)) & prev_l & next_l)  # e-mail, a,b
        | (colon_like & prev_ln & next_l)  # and/or, 23:a
        | (arith & prev_n & next_n))  # 3-4, 2*3
    w = word | apostrophe  # a contraction's apostrophe opens the next token, never a punctuation run
    # first and last word character of each piece (pend where there is none: all one punctuation run)
    pos = np.arange(size, dtype=np.int32)
    first_w = np.minimum.reduceat(np.where(w, pos, np.int32(size)), pstart).astype(np.int64)
    last_w = np.maximum.reduceat(np.where(w, pos, np.int32(-1)), pstart).astype(np.int64)
    has_word = first_w < pend
    first_w = np.where(has_word, first_w, pend)
    # punctuation runs: [piece start, first word char) and (last word char, piece end), by a running sum
    bounds = np.concatenate([pstart, first_w, last_w[has_word] + 1, pend[has_word]])
    signs = np.concatenate([np.ones(m), -np.ones(m), np.ones(int(has_word.sum())), -np.ones(int(has_word.sum()))])
    in_run = np.cumsum(np.bincount(bounds, weights=signs, minlength=size + 1)[:-1]) > 0.5
    dot = cp == 0x2E
    dot_cont = dot & np.roll(dot, 1) & np.roll(in_run, 1) & ~first
    cut = first | (in_run & ~dot_cont) | apostrophe | sep | np.roll(sep, 1)
    cut[first_w[has_word]] = True
    maybe_url = pc.or_(pc.match_substring(pieces, "://"), pc.match_substring(pieces, "www."))
    url = np.zeros(m, dtype=bool)
    if pc.any(maybe_url).as_py():
        cand = np.flatnonzero(maybe_url.to_numpy(zero_copy_only=False))
        url[cand] = pc.match_substring_regex(pieces.take(pa.array(cand)), URL_TOKEN).to_numpy(zero_copy_only=False)
    if url.any():
        _url_cuts(cut, cp, pstart, pend, np.flatnonzero(url), dot)
    starts = np.flatnonzero(cut)
    # byte offset of each token start: its character index plus the extra UTF-8 bytes before it
    wide = np.flatnonzero(cp >= 0x80)
    extra = np.concatenate([[0], np.cumsum(1 + (cp[wide] >= 0x800).astype(np.int64) + (cp[wide] >= 0x10000))])
    owner = np.cumsum(first[starts]) - 1  # every piece start is a token start
    byte_start = starts + extra[np.searchsorted(wide, starts)]
    return byte_start - (offsets[owner] - offsets[0]), owner


def _url_cuts(cut: np.ndarray, cp: np.ndarray, pstart: np.ndarray, pend: np.ndarray, urls: np.ndarray,
              dot: np.ndarray) -> None:
    """Cuts of URL-like pieces (few): one leading bracket or quote, and the trailing punctuation run
    (one token per character, dot runs whole); nothing inside the URL."""
    for u in urls.tolist():
        a, b = int(pstart[u]), int(pend[u])
        cut[a:b] = False
        cut[a] = True
        if int(cp[a]) in _URL_LEAD and b - a > 1:
            cut[a + 1] = True
        t = b
        while t > a and int(cp[t - 1]) in _URL_TRAIL:
            t -= 1
        for i in range(t, b):
            cut[i] = not (dot[i] and i > t and dot[i - 1])


_WORD, _LETTER, _NUM, _COLON_LIKE, _ARITH = 1, 2, 4, 8, 16
_CLASS_PATTERNS = ((_WORD, r"^[" + WORD_CHARS + r"\x{E001}\\]$"), (_LETTER, r"^\pL$"), (_NUM, r"^\pN$"),
                   (_COLON_LIKE, r"^[:<>=/]$"), (_ARITH, r"^[-+*^]$"))
_URL_LEAD = {ord(c) for c in "([<\"'\u201c"}
_URL_TRAIL = {ord(c) for c in ".,;:!?)]>\"'\u201d"}
_BMP_TABLE: list[np.ndarray] = []
_ASTRAL: dict[int, int] = {}


def _class_bits(codepoints: np.ndarray) -> np.ndarray:
    """Class bits of code points, decided by RE2 itself (the same Unicode tables as the regex rules)."""
    cps = codepoints[(codepoints < 0xD800) | (codepoints > 0xDFFF)]
    chars = pa.array([chr(c) for c in cps.tolist()], pa.string())
    bits = np.zeros(cps.size, dtype=np.uint8)
    for bit, pattern in _CLASS_PATTERNS:
        bits |= pc.match_substring_regex(chars, pattern).to_numpy(zero_copy_only=False).astype(np.uint8) * bit
    out = np.zeros(codepoints.size, dtype=np.uint8)
    out[(codepoints < 0xD800) | (codepoints > 0xDFFF)] = bits
    return out


def _classes(cp: np.ndarray) -> np.ndarray:
    """Class bits per character: a 64k table for the BMP (built once per process), RE2 for the rest."""
    if not _BMP_TABLE:
        _BMP_TABLE.append(_class_bits(np.arange(0x10000, dtype=np.uint32)))
    if cp.size == 0 or cp.max() <= 0xFFFF:
        return _BMP_TABLE[0].take(cp)
    cls = _BMP_TABLE[0][cp & 0xFFFF]
    astral = cp > 0xFFFF
    if astral.any():
        uniq, inv = np.unique(cp[astral], return_inverse=True)
        new = np.array([c for c in uniq.tolist() if c not in _ASTRAL], dtype=np.uint32)
        if new.size:
            _ASTRAL.update(zip(new.tolist(), _class_bits(new).tolist(), strict=True))
        cls[astral] = np.array([_ASTRAL[c] for c in uniq.tolist()], dtype=np.uint8)[inv]
    return cls
