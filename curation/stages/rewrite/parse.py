"""Take the improved response out of a generation; anything malformed gets a stable reason code.

strict (the REWIRE template): exactly one start and one end marker, in that order, a non-empty text between
them, and no thinking marker inside it (thinking must never leak into the corpus).
lenient (the small-model template): a missing start marker means the whole answer is the rewrite; a missing
end marker is accepted only when the model stopped on its own (finish_reason "stop"), never when it ran
out of tokens (the text would be cut mid-sentence).
"""

from __future__ import annotations

from dataclasses import dataclass

from curation.stages.rewrite.prompts import END, START, THINK_END, THINK_START


@dataclass(frozen=True)
class Parsed:
    text: str | None
    problem: str | None
    """None when the output is usable; otherwise the code after `malformed_output:`."""


def parse_output(raw: str | None, mode: str = "strict", finish_reason: str | None = "stop",
                 min_chars: int = 1) -> Parsed:
    if raw is None or not raw.strip():
        return Parsed(None, "empty_output")
    n_start, n_end = raw.count(START), raw.count(END)
    if n_start > 1 or n_end > 1:
        return Parsed(None, "duplicate_marker")
    truncated = finish_reason == "length"
    if mode == "strict":
        if n_start == 0:
            return Parsed(None, "truncated" if truncated else "missing_start_marker")
        if n_end == 0:
            return Parsed(None, "truncated" if truncated else "missing_end_marker")
        i, j = raw.index(START), raw.index(END)
        if j < i:
            return Parsed(None, "marker_order")
        text = raw[i + len(START):j]
    elif mode == "lenient":
        i = raw.index(START) + len(START) if n_start else 0
        if n_end:
            j = raw.index(END)
            if j < i:
                return Parsed(None, "marker_order")
        elif truncated:
            return Parsed(None, "truncated")
        else:
            j = len(raw)
        text = raw[i:j]
        if n_start == 0 and THINK_END in text:  # a model that did write thinking: keep only what follows it
            text = text.split(THINK_END, 1)[1]
    else:
        raise ValueError(f"parse mode must be strict or lenient, got {mode!r}")
    if THINK_START in text or THINK_END in text:
        return Parsed(None, "thinking_leak")
    text = text.strip()
    if len(text) < min_chars:
        return Parsed(None, "empty_response")
    return Parsed(text, None)
