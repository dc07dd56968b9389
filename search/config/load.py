"""Loading a config: the default YAML, a user file merged on top, flags on top of that; errors in one line.

Contract: `load_config(path, overrides)` (`path`: a YAML file, or a dict of the
same shape) returns a `Config` or raises
`HpsearchError` with one line naming the file, the key and what is wrong.
Defaults live only in the default YAML (`DEFAULT_CONFIG`,
`configs/breast_cancer.yaml`); a user file is merged on top of it (mappings
key by key, lists and scalars replace), then command-line overrides (dotted
keys) on top of that. `load_saved_config(path)` reads the resolved config a
sweep saved (`config.yaml`) the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from search.config.schema import Config
from trainable.errors import HpsearchError

__all__ = ["DEFAULT_CONFIG", "load_config", "load_saved_config"]


def _default_config_path() -> Path:
    package = Path(__file__).resolve().parent.parent  # search/
    for candidate in (package.parent / "configs" / "breast_cancer.yaml", package / "_default.yaml"):
        if candidate.is_file():
            return candidate
    raise HpsearchError("the default config configs/breast_cancer.yaml is missing from the installation")


DEFAULT_CONFIG = _default_config_path()


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise HpsearchError(f"{path}: config file not found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise HpsearchError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HpsearchError(f"{path}: cannot read config: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise HpsearchError(f"{path}: a config must be a YAML mapping, got {type(loaded).__name__}")
    return loaded


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key `{key}`"
    if kind == "missing":
        return f"missing key `{key}`"
    msg = error["msg"].removeprefix("Value error, ")
    if kind.endswith("_type") or kind.startswith("literal") or kind == "string_pattern_mismatch":
        return f"`{key}`: {msg}, got {error['input']!r}"
    if "got" in msg:
        return f"`{key}`: {msg}"
    return f"`{key}`: {msg}, got {error['input']!r}"


def load_saved_config(path: str | Path) -> Config:
    """The resolved config a sweep saved (`config.yaml`)."""
    return load_config(path)


def load_config(path: str | Path | Mapping[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load the default YAML, merge `path` (a YAML file, or a mapping shaped like one: the Python API's
    config dict) and dotted `overrides` on top, validate."""
    tree = _read_yaml(DEFAULT_CONFIG)
    source: str | Path = DEFAULT_CONFIG
    if isinstance(path, Mapping):
        source = "config"
        tree = _merge(tree, dict(path))
    elif path is not None:
        source = Path(path)
        tree = _merge(tree, _read_yaml(source))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(tree, dotted, value)
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise HpsearchError(f"{source}: {_describe(dict(exc.errors()[0]))}") from None
