"""The `normalize` config section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from curation.engine.options import opt


@dataclass
class NormalizeConfig:
    form: Literal["NFC", "NFKC", "none"] = opt("NFC", "Unicode normalisation form (NFKC also folds compatibility characters).")
    collapse_spaces: bool = opt(True, "Collapse runs of spaces/tabs/no-break spaces inside lines to one space.")
    strip_lines: bool = opt(True, "Strip trailing whitespace of every line.")
    max_blank_lines: int = opt(1, "Keep at most this many consecutive blank lines.")
    invalid_utf8: Literal["repair", "quarantine"] = opt(
        "repair", "Text that is not valid UTF-8 (possible in foreign Parquet): repair with U+FFFD, or quarantine it.")
    max_replacement_frac: float = opt(0.1, "Quarantine text whose share of U+FFFD characters exceeds this (mojibake).")
    min_chars: int = opt(1, "Documents shorter than this after normalisation are dropped as `empty`.")


SECTION = NormalizeConfig
