"""Input bytes in bounded memory: decompression that reports how a stream ended, and records split linearly.

`Decompressed` yields the decompressed chunks of a plain, gzip (multi-member) or zstd (multi-frame) file and,
after the last chunk, says whether the stream ended cleanly (`problem` is None), was cut off
(`truncated_stream`: everything before the cut was yielded), was corrupt (`corrupt_stream`) or expanded
beyond `max_ratio` (`decompression_bomb`). `split_records` cuts chunks into newline-terminated records in time
linear in the input, holding at most `max_bytes` of one record: a longer one is counted and skipped, never
held. Design: docs/DESIGN.md#bounded-input.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from curation.io import fs

CHUNK = 1 << 20
#: Decompression ratios are only judged past this much output (small files legitimately compress 100x+).
RATIO_FLOOR = 256 << 20
#: zstd input fed per call: zstd can expand ~32,000x, so this bounds one call's output to ~128 MiB.
ZSTD_PIECE = 4096


class Decompressed:
    """The decompressed chunks of `path`; `problem` is (reason, detail) once iteration ends badly."""

    def __init__(self, path: str, max_ratio: float = 1000.0, chunk: int = CHUNK):
        self.path = path
        self.max_ratio = max_ratio
        self.chunk = chunk
        self.compressed = 0
        self.produced = 0
        self.problem: tuple[str, str] | None = None
        low = path.lower()
        self.kind = "gzip" if low.endswith(".gz") else "zstd" if low.endswith((".zst", ".zstd")) else "plain"

    def __iter__(self) -> Iterator[bytes]:
        raw = open(self.path, "rb") if not fs.is_uri(self.path) else fs.open_input(self.path)
        with raw:
            if self.kind == "plain":
                while chunk := raw.read(self.chunk):
                    self.compressed += len(chunk)
                    self.produced += len(chunk)
                    yield chunk
                return
            yield from self._inflate(raw)

    def _new(self):
        if self.kind == "gzip":
            return zlib.decompressobj(wbits=31)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()

    def _inflate(self, raw) -> Iterator[bytes]:
        d = self._new()
        member_fed = False  # bytes of the current member/frame have been fed since it started
        while True:
            chunk = raw.read(self.chunk)
            if not chunk:
                break
            self.compressed += len(chunk)
            data = chunk
            while data:
                if d.eof:  # a new gzip member / zstd frame follows
                    if not data.strip(b"\x00"):
                        data = b""
                        break
                    d, member_fed = self._new(), False
                try:
                    if self.kind == "gzip":
                        out = d.decompress(data, self.chunk)
                        data = d.unconsumed_tail or d.unused_data
                    else:  # no output limit in zstd's API: small input pieces bound one call's output
                        piece, data = data[:ZSTD_PIECE], data[ZSTD_PIECE:]
                        out = d.decompress(piece)
                        if d.eof:
                            data = d.unused_data + data
                except Exception as e:  # zlib.error, zstandard.ZstdError
                    self.problem = ("corrupt_stream", f"{self.kind} stream is corrupt after {self.produced} "
                                    f"decompressed bytes: {e}")
                    return
                member_fed = True
                if out:
                    self.produced += len(out)
                    if self.produced > RATIO_FLOOR and self.produced > self.max_ratio * max(self.compressed, 1):
                        self.problem = ("decompression_bomb", f"{self.produced} bytes out of {self.compressed} "
                                        f"compressed (> input.max_decompression_ratio={self.max_ratio:g})")
                        return
                    yield out
        if member_fed and not d.eof:
            if self.kind == "gzip":
                try:
                    tail = d.flush()  # what the consumed input of a cut-off member still gives
                except zlib.error:
                    tail = b""
                if tail:
                    self.produced += len(tail)
                    yield tail
            self.problem = ("truncated_stream", f"{self.kind} stream cut off after {self.compressed} compressed "
                            f"bytes ({self.produced} decompressed)")


@dataclass
class Record:
    """One newline-terminated record: its bytes (None when it was longer than the limit), its size, and
    whether its end was seen (False only for the last record of a stream that was cut off)."""

    data: bytes | None
    size: int
    complete: bool = True


def split_records(chunks: Iterator[bytes] | Decompressed, max_bytes: int) -> Iterator[Record]:
    """Newline-separated records of a chunk stream, linear in the input, at most `max_bytes` held per record.

    The last record is yielded even without a final newline; it is marked incomplete when `chunks` is a
    `Decompressed` whose stream turned out to be cut off or corrupt.
    """
    buf = bytearray()
    skipping = False  # the current record is over the limit: count it, hold nothing
    size = 0
    for chunk in chunks:
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            end = len(chunk) if nl < 0 else nl
            piece_len = end - start
            size += piece_len
            if not skipping:
                if size > max_bytes:
                    skipping = True
                    buf = bytearray()
                elif nl >= 0 and not buf:
                    # the common case: the whole record lies in this chunk, no copy into the buffer
                    yield Record(chunk[start:nl], size)
                    size = 0
                    start = nl + 1
                    continue
                else:
                    buf += chunk[start:end]
            if nl < 0:
                break
            yield Record(None if skipping else bytes(buf), size)
            buf, skipping, size = bytearray(), False, 0
            start = nl + 1
    if size or buf:
        complete = not (isinstance(chunks, Decompressed) and chunks.problem is not None)
        yield Record(None if skipping else bytes(buf), size, complete)
