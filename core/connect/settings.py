"""Checks of `clusters.<name>.connect` beyond what the config loader's types check, and
the pick of one Connect cluster by name. ConfigError names the file and the key."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from kafkaops.core.config import Config, ConnectConfig
from kafkaops.core.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_connect(config: Config) -> None:
    """Every `connect:` entry: a usable name (unique within its cluster), an http(s) URL
    without credentials in it, TLS only for https, a user name with basic auth."""
    src = config.source
    for cluster, cc in config.clusters.items():
        seen: set[str] = set()
        for i, entry in enumerate(cc.connect):
            where = f"{src}: clusters.{cluster}.connect[{i}]"
            if not _NAME.match(entry.name):
                raise ConfigError(
                    f"{where}.name: {entry.name!r}: use letters, digits, '.', '_' or '-' "
                    "(at most 64), starting with a letter or digit")
            if entry.name in seen:
                raise ConfigError(f"{where}.name: {entry.name!r} is used twice in "
                                  f"clusters.{cluster}.connect")
            seen.add(entry.name)
            problem = url_problem(entry.url)
            if problem:
                raise ConfigError(f"{where}.url: {entry.url!r}: {problem}")
            if entry.tls is not None and not entry.url.lower().startswith("https://"):
                raise ConfigError(f"{where}.tls: applies to https:// URLs; the url is "
                                  f"{entry.url!r}")
            if entry.basic_auth is not None and not entry.basic_auth.username:
                raise ConfigError(f"{where}.basic_auth.username: give the user name")


def url_problem(url: str) -> str | None:
    """Why a Connect REST URL is unusable, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        return f"not a URL ({e})"
    if parts.scheme.lower() not in ("http", "https"):
        return "expected an http:// or https:// URL, e.g. http://connect-1:8083"
    if not parts.hostname:
        return "the URL names no host"
    if parts.username is not None or parts.password is not None:
        return "put credentials under basic_auth (with ${ENV_VAR}), not in the URL"
    if parts.query or parts.fragment:
        return "the URL must not carry a query or fragment"
    if port == 0:
        return "port 0 is not a port"
    return None


def pick(config: Config, cluster: str, name: str | None) -> ConnectConfig:
    """The Connect cluster `name` of a Kafka cluster (the only or first one when None)."""
    entries = config.cluster(cluster)[1].connect
    if not entries:
        raise ConfigError(
            f"{config.source}: cluster {cluster!r} has no Kafka Connect configured; add "
            f"clusters.{cluster}.connect: [{{name: ..., url: http://HOST:8083}}]")
    if name is None:
        return entries[0]
    for entry in entries:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in entries)
    raise ConfigError(f"{config.source}: cluster {cluster!r} has no Connect cluster named "
                      f"{name!r} (configured: {known})")
