"""YAML configuration: typed sections with documented defaults, validated with clear errors.

Each stage declares its own section in `curation/stages/<name>/config.py`, so adding a stage never means
editing a central schema; this module knows the core sections and how to load a file. Field helpers and
validation are in `curation/engine/options.py`. `curation config` prints every key with its default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from curation.engine.options import ConfigError, build_section, describe_fields, opt, parse_scalar

__all__ = ["Config", "ConfigError", "InputConfig", "OutputConfig", "PipelineConfig", "SparkConfig",
           "apply_overrides", "describe", "load_config", "sections"]


@dataclass
class SparkConfig:
    master: str | None = opt(None, "Spark master URL. Unset: local[*], or whatever spark-submit was given. Env CURATION_SPARK_MASTER overrides.")
    app_name: str = opt("curation", "Spark application name.")
    driver_memory: str = opt("4g", "spark.driver.memory when Spark is started from Python (local mode).")
    shuffle_partitions: int = opt(8, "spark.sql.shuffle.partitions; raise it on a cluster.")
    max_records_per_batch: int = opt(2000, "Rows per Arrow batch handed to Python transforms (bounds worker memory).")
    log_level: str = opt("ERROR", "Spark log level after start-up (Spark's INFO spam is hidden by default).")
    progress: bool = opt(True, "Print a one-line progress display of running Spark stages on stderr.")
    conf: dict[str, str] = opt({}, "Extra Spark configuration, key -> value.")


@dataclass
class InputConfig:
    paths: list[str] = opt([], "Input files, folders or globs (local paths or Hadoop-style URIs).")
    format: Literal["auto", "jsonl", "parquet"] = opt("auto", "Document input format; auto decides by file suffix.")
    id_field: str = opt("id", "JSONL/Parquet field kept as source_id.")
    text_field: str = opt("text", "JSONL/Parquet field holding the text.")
    invalid_utf8: Literal["quarantine", "repair"] = opt(
        "quarantine", "Lines that are not valid UTF-8: quarantine them, or repair with U+FFFD and keep (noted in the ledger detail)."
    )
    max_text_bytes: int = opt(50_000_000, "Records whose text exceeds this many bytes are quarantined (too_large).")
    max_record_bytes: int = opt(64 << 20, "A JSONL line longer than this is skipped unread and quarantined "
                                          "(record_too_large); bounds a reader's memory whatever the input.")
    max_decompression_ratio: float = opt(1000.0, "A compressed input that expands more than this (past 256 MiB of "
                                                 "output) stops with a decompression_bomb row.")

    def validate(self) -> None:
        if self.max_record_bytes < 1024 or self.max_text_bytes < 1:
            raise ValueError("max_record_bytes must be >= 1024 and max_text_bytes >= 1")


@dataclass
class OutputConfig:
    dir: str | None = opt(None, "Output folder (required for `curation run`; the stage CLI takes --output).")
    shard_target_bytes: int = opt(256 * 1024 * 1024, "Target uncompressed size of one Parquet shard.")
    compression: str = opt("zstd", "Parquet compression codec.")
    write_rejected: bool = opt(True, "Also write dropped/quarantined documents (with their reason) to rejected/ for review.")


@dataclass
class PipelineConfig:
    stages: list[str] = opt(["normalize", "export"], "Stages run by `curation run`, in order.")


CORE_SECTIONS: dict[str, type] = {
    "spark": SparkConfig,
    "input": InputConfig,
    "output": OutputConfig,
    "pipeline": PipelineConfig,
}


def sections() -> dict[str, type]:
    """Core sections plus one per stage that declares a config section."""
    from curation.stages import config_sections

    return {**CORE_SECTIONS, **config_sections()}


class Config:
    """The validated configuration: one dataclass instance per section, attribute access by section name."""

    def __init__(self, values: dict[str, Any], source: str | None = None):
        self._values = values
        self.source = source

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"config has no section {name!r}")

    def section(self, name: str) -> Any:
        return self._values.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {k: dataclasses.asdict(v) for k, v in self._values.items()}

    def hash(self, stages: list[str] | None = None) -> str:
        """Hash of what determines the output: everything but Spark tuning and the output location.

        With `stages`, only the sections of those stages count, so installing a new stage module (which
        adds a section with defaults) does not change the id of runs that do not use it.
        """
        d = self.to_dict()
        d.pop("spark", None)
        d.get("output", {}).pop("dir", None)
        if stages is not None:
            d = {k: v for k, v in d.items() if k in CORE_SECTIONS or k in stages}
            d["pipeline"] = {"stages": list(stages)}
        blob = json.dumps(d, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = raw
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {p} is not a section")
        node[parts[-1]] = parse_scalar(value)
    return raw


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None,
                base: dict[str, Any] | None = None) -> Config:
    raw: dict[str, Any] = json.loads(json.dumps(base or {}))
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from e
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: top level must be a mapping of sections")
        for k, v in loaded.items():
            if isinstance(v, dict) and isinstance(raw.get(k), dict):
                raw[k].update(v)
            else:
                raw[k] = v
    apply_overrides(raw, overrides or [])
    known = sections()
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"unknown config section {unknown[0]!r} (known: {', '.join(sorted(known))})")
    values = {name: build_section(cls, raw.get(name), name) for name, cls in known.items()}
    for s in values["pipeline"].stages:
        if s not in known and s not in _stage_names():
            raise ConfigError(f"pipeline.stages: unknown stage {s!r} (known: {', '.join(_stage_names())})")
    return Config(values, source=str(path) if path else None)


def _stage_names() -> list[str]:
    from curation.stages import names

    return sorted(names())


def describe() -> str:
    """Every key with its type, default and doc, as Markdown (used for the README reference)."""
    lines = []
    for name, cls in sections().items():
        lines.append(f"\n### `{name}`\n")
        lines.append("| key | type | default | meaning |\n|---|---|---|---|")
        lines += describe_fields(cls, name)
    return "\n".join(lines) + "\n"


