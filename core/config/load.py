"""Loading config: YAML (refusing a key given twice), then `${VAR}` from the environment,
walked into the model by the dataclasses' type hints, so adding a key is adding a field.
Unknown keys, wrong types and missing files are ConfigError naming the file, the key path
and what was expected. Also `-b HOST:PORT`'s config and the redacted view for `config show`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from kafkaops.core.config.checks import MAX_DEPTH, check_bootstrap, check_references
from kafkaops.core.config.clusters import ClusterConfig
from kafkaops.core.config.model import ADHOC_CLUSTER, DEFAULT_CONFIG_PATH, Config
from kafkaops.core.config.values import _ENV_REF, Duration, Secret
from kafkaops.core.config.values import clip as _clip
from kafkaops.core.errors import ConfigError

# ---------------------------------------------------------------- loading

_KEY_ALIASES = {"for": "for_"}
_INTERNAL_FIELDS = {"source"}


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is Secret:
        return "a string (use ${ENV_VAR} for secrets)"
    if tp is Duration:
        return "a duration such as 15s, 2m or 1h"
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(tp))
    if origin is list:
        return "a list"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    return str(tp)


def _interpolate(text: str, path: str, src: str) -> str:
    def sub(m: re.Match[str]) -> str:
        var, default = m.group(1), m.group(2)
        value = os.environ.get(var)
        if value is None:
            if default is not None:
                return default
            raise ConfigError(f"{src}: {path}: environment variable {var} is not set")
        return value

    return _ENV_REF.sub(sub, text)


def _convert(value: Any, tp: Any, path: str, src: str) -> Any:
    def bad(expected: str | None = None) -> ConfigError:
        shown = (
            "a mapping"
            if isinstance(value, dict)
            else "a list"
            if isinstance(value, list)
            else _clip(repr(value) if not isinstance(value, int) or value.bit_length() < 200
                       else f"an integer of {len(str(value).lstrip('-')):,} digits")
        )
        return ConfigError(f"{src}: {path}: expected {expected or _type_name(tp)}, got {shown}")

    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for a in args:
            try:
                return _convert(value, a, path, src)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:  # `X | None`: X's own message names the key that is wrong
            raise errors[0]
        raise bad()
    if tp is Secret:
        if not isinstance(value, str):
            raise bad()
        refs = _ENV_REF.findall(value)
        if refs:
            missing = [v for v, d in refs if v not in os.environ and not d]
            if missing:
                return Secret(None, missing_var=missing[0], path=path)
            return Secret(_interpolate(value, path, src), path=path)
        return Secret(value, path=path)
    if isinstance(value, str) and tp is not Secret:
        value = _interpolate(value, path, src)
    if tp is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad()
        return str(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                return int(value)
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad()
        return float(value)
    if tp is Duration:
        try:
            return Duration.parse(value)
        except ValueError:
            raise bad() from None
    if origin is Literal:
        if value not in get_args(tp):
            raise bad()
        return value
    if origin is list:
        if not isinstance(value, list):
            raise bad()
        (item,) = get_args(tp)
        return [_convert(v, item, f"{path}[{i}]", src) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad()
        _, item = get_args(tp)
        return {str(k): _convert(v, item, f"{path}.{k}", src) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise bad()
        return _build(tp, value, path, src)
    raise bad()  # pragma: no cover - a type the model does not use


def _build(cls: type[Any], data: Mapping[str, Any], path: str, src: str) -> Any:
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _INTERNAL_FIELDS}
    kwargs: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _KEY_ALIASES.get(str(raw_key), str(raw_key))
        sub = f"{path}.{raw_key}" if path else str(raw_key)
        if key not in fields:
            known = ", ".join(sorted(k.rstrip("_") for k in fields))
            hint = _close_match(str(raw_key), [k.rstrip("_") for k in fields])
            raise ConfigError(f"{src}: {sub}: unknown key{hint} (expected one of: {known})")
        kwargs[key] = _convert(value, hints[key], sub, src)
    for name, f in fields.items():
        if (
            name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            sub = f"{path}.{name.rstrip('_')}" if path else name
            raise ConfigError(f"{src}: {sub}: required key is missing ({_type_name(hints[name])})")
    return cls(**kwargs)



def _close_match(word: str, candidates: list[str]) -> str:
    import difflib

    best = difflib.get_close_matches(word, candidates, n=1)
    return f"; did you mean {best[0]!r}?" if best else ""


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Build a Config from already-parsed YAML. Raises ConfigError on any problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    from kafkaops.core.untrusted import UntrustedData, check_depth

    try:
        check_depth(data, MAX_DEPTH, "the config")
    except UntrustedData as e:
        raise ConfigError(f"{source}: {e}") from None
    config: Config = _build(Config, data, "", source)
    config = dataclasses.replace(config, source=source)
    check_references(config)
    return config




def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read config from `path`, else $KAFKAOPS_CONFIG, else the default path.

    A path that was asked for explicitly must exist; the default path may be missing (then
    the config is empty and a cluster must come from -b).
    """
    explicit = path is not None or "KAFKAOPS_CONFIG" in os.environ
    p = Path(path if path is not None else os.environ.get("KAFKAOPS_CONFIG", DEFAULT_CONFIG_PATH))
    p = p.expanduser()
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: config file not found")
        return Config(source=f"{p} (not found)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config file: {e}") from None
    import yaml  # here, not at the top: `kafkaops -b HOST:PORT ...` never needs it (start time)

    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as e:
        raise ConfigError(f"{p}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ConfigError(f"{p}: the config is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # PyYAML's int() of a scalar: an integer of thousands of digits
        raise ConfigError(f"{p}: not valid YAML: {_clip(' '.join(str(e).split()), 120)}"
                          ) from None
    return parse_config(data, str(p))


class _DuplicateKey(Exception):
    """A mapping names one key twice: YAML would keep the last silently."""


def _loader() -> Any:
    """yaml.SafeLoader that refuses a key given twice in one mapping (keys merged in with
    `<<: *anchor` may still be overridden, as YAML intends)."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is None:
                    continue
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _DuplicateKey(f"duplicate key {key!r} (line {line}, first at line "
                                        f"{seen[key]}): give each key once")
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return Loader


def adhoc_config(bootstrap: str, base: Config | None = None) -> Config:
    """The `-b HOST:PORT` shortcut: a config whose only cluster is that address."""
    problem = check_bootstrap(bootstrap)
    if problem:
        raise ConfigError(f"-b {_clip(bootstrap)}: {problem}")
    base = base or Config()
    return dataclasses.replace(
        base,
        clusters={ADHOC_CLUSTER: ClusterConfig(bootstrap_servers=bootstrap)},
        default_cluster=ADHOC_CLUSTER,
        source=f"-b {bootstrap}",
    )


def redacted(config: Config) -> dict[str, Any]:
    """The config as plain data with every secret replaced by '***' (or '<unset>')."""

    def walk(v: Any) -> Any:
        if isinstance(v, Secret):
            return str(v)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            out = {}
            for f in dataclasses.fields(v):
                if f.name in _INTERNAL_FIELDS:
                    continue
                out[f.name.rstrip("_")] = walk(getattr(v, f.name))
            return out
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, Duration):
            return f"{float(v):g}s"
        return v

    result: dict[str, Any] = walk(config)
    return result
