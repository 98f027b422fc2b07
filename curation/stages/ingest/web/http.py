"""HTTP response payloads inside WARC/ARC records: status, headers, chunked and compressed bodies.

Tolerant by design: archived responses are often malformed (bad chunk sizes, a gzip body cut off);
we recover what is decodable and report what was wrong instead of failing the record.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass
class HttpResponse:
    status: int | None
    headers: dict[str, str]
    body: bytes
    problem: str | None = None

    @property
    def mime(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        return charset_param(self.headers.get("content-type", ""))


def charset_param(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


def dechunk(body: bytes) -> tuple[bytes, str | None]:
    """Undo Transfer-Encoding: chunked; returns (data, problem) and keeps what was readable."""
    out = []
    i = 0
    n = len(body)
    while i < n:
        j = body.find(b"\n", i)
        if j < 0:
            return b"".join(out), "bad_chunking"
        size_text = body[i:j].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return (b"".join(out) if out else body), "bad_chunking"
        if size == 0:
            return b"".join(out), None
        start = j + 1
        out.append(body[start:start + size])
        if start + size > n:
            return b"".join(out), "bad_chunking"
        i = start + size
        if body[i:i + 2] == b"\r\n":
            i += 2
        elif body[i:i + 1] == b"\n":
            i += 1
    return b"".join(out), None


def decompress(body: bytes, encoding: str, limit: int) -> tuple[bytes, str | None]:
    """Undo Content-Encoding gzip/deflate (bounded by `limit` output bytes); br needs the brotli package."""
    enc = encoding.strip().lower()
    if enc in ("", "identity", "none"):
        return body, None
    if enc in ("gzip", "x-gzip", "deflate"):
        for wbits in ((31, 15, -15) if enc != "deflate" else (15, -15, 31)):
            try:
                d = zlib.decompressobj(wbits)
                out = d.decompress(body, limit)
                if d.unconsumed_tail:
                    return out, "too_large"
                return out, None
            except zlib.error:
                continue
        return body, "bad_content_encoding"
    if enc == "br":
        try:
            import brotli  # type: ignore[import-not-found]
        except ImportError:
            return body, "unsupported_content_encoding"
        try:
            d = brotli.Decompressor()
            out = d.process(body, output_buffer_limit=limit)  # bounded like gzip: a small body can inflate hugely
            if len(out) >= limit and not d.is_finished():
                return out[:limit], "too_large"
            if not d.is_finished():
                return body, "bad_content_encoding"  # cut off: brotli has no partial-output recovery here
            return out, None
        except brotli.error:
            return body, "bad_content_encoding"
    return body, "unsupported_content_encoding"


def parse_response(block: bytes, max_body_bytes: int) -> HttpResponse:
    """Split an `application/http; msgtype=response` block into status, headers and decoded body."""
    # Header lines end in CRLF or (old crawlers) a bare LF: the header ends at the first blank line of either kind.
    candidates = [(i, n) for i, n in ((block.find(b"\r\n\r\n"), 4), (block.find(b"\n\n"), 2)) if i >= 0]
    sep, cut = min(candidates) if candidates else (-1, 0)
    if sep < 0 or not block.startswith(b"HTTP/"):
        return HttpResponse(None, {}, block, "bad_http_header")
    head = block[:sep].decode("latin-1").split("\n")
    status = None
    parts = head[0].split()
    if len(parts) >= 2 and parts[1][:3].isdigit():
        status = int(parts[1][:3])
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, s, value = line.partition(":")
        if s:
            headers.setdefault(name.strip().lower(), value.strip())
    body = block[sep + cut:]
    problem = None
    if "chunked" in headers.get("transfer-encoding", "").lower():
        # Archivers often store the de-chunked body but keep the header: only undo it when it parses.
        undone, p = dechunk(body)
        if p is None:
            body = undone
    enc = headers.get("content-encoding", "")
    if enc:
        decoded, problem = decompress(body, enc, max_body_bytes)
        if problem in ("bad_content_encoding", "unsupported_content_encoding") and _plain_markup(body):
            # Archivers (ClueWeb09, wget) often store the decoded body but keep the Content-Encoding header.
            problem = None
        else:
            body = decoded
    return HttpResponse(status, headers, body, problem)


def _plain_markup(body: bytes) -> bool:
    head = body[:2048].lstrip()
    return head[:1] == b"<" or head[:5].lower() == b"%pdf-"
