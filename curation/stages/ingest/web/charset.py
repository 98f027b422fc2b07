"""Decoding HTML bytes: BOM, HTTP header charset, <meta> charset, then detection (uchardet).

Order follows the WHATWG sniffing order with one practical exception: when the declared charset is a
single-byte legacy one (latin-1/cp1252) but the bytes are valid UTF-8 with non-ASCII characters, the
page is UTF-8 (a wrong server default is far more common than latin-1 text that happens to be valid
UTF-8). Decoding never fails: undecodable bytes become U+FFFD, which normalize counts later.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

_META = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_SINGLE_BYTE = {"windows-1252", "iso-8859-1", "us-ascii", "ascii", "latin1", "latin-1", "cp1252"}


def _canonical(name: str | None) -> str | None:
    """WHATWG label -> Python codec name, or None when unknown."""
    if not name:
        return None
    from resiliparse.parse.encoding import map_encoding_to_html5

    mapped = map_encoding_to_html5(name.strip().lower()) or None
    if mapped is None or mapped == "replacement":
        return None
    try:
        codecs.lookup(mapped)
    except LookupError:
        return None
    return mapped


def _is_utf8_non_ascii(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        return e.start >= len(data) - 3  # only a multi-byte character cut off at the very end


def detect(data: bytes, http_charset: str | None = None, full: Callable[[], bytes] | None = None) -> tuple[str, str]:
    """(codec name, where it came from: bom | http | meta | utf8 | detected).

    Only the first 64 kB of `data` are looked at, except by the uchardet fallback, which reads all of it
    (`full()` when given: the caller may pass just the first 64 kB as `data`).
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, "bom"
    sample = data[:65536]
    declared, source = _canonical(http_charset), "http"
    if declared is None:
        m = _META.search(data[:4096])
        declared, source = (_canonical(m.group(1).decode("ascii", "ignore")) if m else None), "meta"
    if declared is not None:
        if declared.lower() in _SINGLE_BYTE and _is_utf8_non_ascii(sample):
            return "utf-8", "utf8"
        return declared, source
    if sample.isascii() or _is_utf8_non_ascii(sample):
        return "utf-8", "utf8"
    from resiliparse.parse.encoding import detect_encoding

    return (_canonical(detect_encoding(full() if full is not None else data)) or "windows-1252"), "detected"


def decode_html(data: bytes | memoryview, http_charset: str | None = None) -> tuple[str, str, str]:
    """(text, codec, source). Invalid sequences become U+FFFD; a BOM is stripped.

    `data` may be a memoryview (the extraction worker's view of the shared page area): valid UTF-8, the
    common case, then decodes in place without a copy of the page.
    """
    from resiliparse.parse.encoding import bytes_to_str

    if isinstance(data, memoryview):
        view = data
        codec, source = detect(bytes(view[:65536]), http_charset, full=lambda: bytes(view))
    else:
        codec, source = detect(data, http_charset)
    if codec == "utf-8":
        try:  # what bytes_to_str returns for valid input, without its copy
            text = str(data, "utf-8")
            return (text[1:] if text.startswith("\ufeff") else text), codec, source
        except UnicodeDecodeError:
            pass
    text = bytes_to_str(bytes(data), codec, errors="replace", fallback_encodings=("utf-8", "windows-1252"))
    return text, codec, source
