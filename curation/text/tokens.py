"""Token counts.

`approx_token_count` is the cheap estimate every reader fills in so the manifest can report tokens
from the first stage on; the annotate stage replaces it with a real tokenizer's count.
"""

from __future__ import annotations

import re

_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_token_count(text: str | None) -> int | None:
    """Roughly BPE-sized units: words plus punctuation, long words counted per 6 characters."""
    if text is None:
        return None
    return sum(1 + (len(m) - 1) // 6 for m in _WORDS.findall(text))
