"""The `export` config section."""

from __future__ import annotations

from dataclasses import dataclass

from curation import schema as S
from curation.engine.options import opt


@dataclass
class ExportConfig:
    drop_columns: list[str] = opt([], "Columns left out of the exported shards (e.g. embedding).")
    min_tokens: int = opt(0, "Documents with fewer tokens are dropped as `too_short` (0 keeps all).")

    def validate(self) -> None:
        core = set(S.core_names())
        bad = [c for c in self.drop_columns if c in core]
        if bad:
            raise ValueError(f"drop_columns may not drop core document columns: {bad}")


SECTION = ExportConfig
