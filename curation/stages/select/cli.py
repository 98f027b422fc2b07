"""Config loading shared by the `curation select fit | plan | proxy` sub-commands."""

from __future__ import annotations

from curation.config import load_config
from curation.stages.select.config import SelectConfig


def load_select_config(config: str | None, sets: list[str]) -> SelectConfig:
    """The `select` section of a config file, with --set overrides."""
    return load_config(config, sets).section("select")
