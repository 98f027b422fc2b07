"""Typed, documented config fields and their validation (no knowledge of any section).

A section is a dataclass whose fields are made with `opt` (default + doc); `build_section` turns a YAML
mapping into an instance with clear errors naming the key, then runs the dataclass's `validate()`.
Stage config modules import only this module, so loading a config never imports stage code.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import field
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A config problem the user can fix; the message names the key."""


def opt(default: Any, doc: str, **kw: Any) -> Any:
    """A documented config field."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: json.loads(json.dumps(d)), metadata={"doc": doc, **kw})
    return field(default=default, metadata={"doc": doc, **kw})


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: invalid value {value!r}")
    if origin is Literal:
        if isinstance(value, bool) and ("off" if not value else "on") in args:
            value = "off" if not value else "on"  # YAML 1.1 reads a bare off/on as false/true
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} ({value!r})")
        return [_coerce(v, args[0] if args else Any, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return {str(k): _coerce(v, args[1] if args else Any, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build_section(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__} ({value!r})")
        return value
    raise ConfigError(f"{key}: unsupported config type {_type_name(tp)}")


def build_section(cls: type, values: dict[str, Any] | None, prefix: str) -> Any:
    values = values or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix}: expected a mapping of keys, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown key {prefix}.{unknown[0]} (known keys in {prefix}: {', '.join(names)})")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}") for k, v in values.items()}
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check:
        try:
            check()
        except (ValueError, FileNotFoundError) as e:
            raise ConfigError(f"{prefix}: {e}") from e
    return obj


def parse_scalar(text: str) -> Any:
    """`--set key=value`: the value is parsed as YAML, so 0.8, true, [a, b] and null work."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def describe_fields(cls: type, prefix: str) -> list[str]:
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        doc = f.metadata.get("doc", "")
        if dataclasses.is_dataclass(default):
            rows.append(f"| `{prefix}.{f.name}` | section | | {doc} |")
            rows += describe_fields(type(default), f"{prefix}.{f.name}")
            continue
        tp = str(hints[f.name]).replace("typing.", "").replace("<class '", "").replace("'>", "")
        rows.append(f"| `{prefix}.{f.name}` | {tp} | `{json.dumps(default, default=str)}` | {doc} |")
    return rows
