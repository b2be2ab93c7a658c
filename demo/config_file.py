"""The config file `kafkaops demo` writes for its embedded clusters (valid for
`kafkaops --config FILE ...`): clusters, audit key, alert rules, DR pair, and the teams,
costs and policies of the Usage and Compliance screens.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kafkaops.core.config import Config, load_config
from kafkaops.core.errors import ConfigError, UsageError
from kafkaops.demo.catalogue import DEMO_GROUPS

#: the audit signing key written into the demo's config; not a secret, demo only
DEMO_SIGNING_KEY = "kafkaops-demo-signing-key-not-secret"


def default_config_path() -> Path:
    """Where the demo writes its config unless told: $XDG_CACHE_HOME/kafkaops/demo/."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kafkaops" / "demo" / "config.yaml"



def demo_alert_rules(cluster: str) -> list[dict[str, Any]]:
    """Alert rules the demo's config names, so the alerts screen (and the header's count)
    show what the lag screen shows: the stopped warehouse loader fires once its status is
    judged STOP; a group that stalls or falls two minutes behind fires a warning."""
    return [
        {"name": "consumer-stopped", "match": {"cluster": cluster},
         "when": "status == STOP", "severity": "critical", "channel": "#demo-oncall"},
        {"name": "consumer-falling-behind", "match": {"cluster": cluster},
         "when": "status in [ERR, STALL] or lag_seconds > 120", "severity": "warning",
         "channel": "#demo-oncall"},
    ]


def demo_config_data(bootstraps: Mapping[str, str],
                     cluster_settings: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> dict[str, Any]:
    """Config naming the embedded clusters, in the shape of config.example.yaml.
    `cluster_settings`: more keys per cluster (a demo part's schema_registry, ...)."""
    names = list(bootstraps)
    extra = cluster_settings or {}
    data: dict[str, Any] = {
        "default_cluster": names[0],
        "clusters": {n: {"bootstrap_servers": b, **extra.get(n, {})}
                     for n, b in bootstraps.items()},
        "audit": {"signing_key": DEMO_SIGNING_KEY},
        "alerts": {"interval": "10s", "rules": demo_alert_rules(names[0])},
    }
    if len(names) >= 2:
        data["dr"] = {"pairs": [{"name": "main", "primary": names[0], "secondary": names[1],
                                 "groups": [g.group_id for g in DEMO_GROUPS]}]}
    data.update(DEMO_OWNERSHIP)
    return data


#: teams, prices and policies for the Usage (U) and Compliance (P) screens: every demo topic
#: (and the schema traffic's) has an owner but the MirrorMaker and kafkaops ones;
#: iac.changes breaks iac-retention (min.insync.replicas 1, and one replica: not fixable by
#: a config change), orders.events breaks orders-retention (7d: `policy fix` sets 14d) and
#: cdc-durability asks for min.insync.replicas, which cdc.shop.orders does not set (unknown)
DEMO_OWNERSHIP: dict[str, Any] = {
    "teams": {
        "payments": {"match": ["orders.*", "cdc.shop.*", "payments.*"],
                     "channel": "#payments-oncall"},
        "logistics": {"match": ["shipments.*"]},
        "platform": {"match": ["logs.*", "metrics.*", "k8s.*"]},
        "delivery": {"match": ["cicd.*", "iac.*", "config.*"]},
        "finops": {"match": ["finops.*"]},
    },
    "costs": {"storage_gb_month": 0.10, "ingress_gb": 0.02, "currency": "USD"},
    "policies": [
        {"name": "iac-retention", "match": {"topic": "iac.*"},
         "require": {"retention": ">= 7y", "cleanup_policy": "delete",
                     "min_insync_replicas": ">= 2"}},
        {"name": "logs-compressed", "match": {"topic": "logs.*"},
         "require": {"compression_type": ["lz4", "snappy", "zstd"]}},
        {"name": "orders-retention", "match": {"topic": "orders.*"},
         "require": {"retention": ">= 14d"}},
        {"name": "cdc-durability", "match": {"topic": "cdc.*"},
         "require": {"min_insync_replicas": ">= 2"}},
    ],
}


def write_demo_config(path: str | os.PathLike[str], bootstraps: Mapping[str, str],
                      cluster_settings: Mapping[str, Mapping[str, Any]] | None = None
                      ) -> Config:
    """Write the demo's config file (atomically, mode 0600) and return it as loaded back.

    Loading it back proves it is valid for `kafkaops --config FILE ...`.
    """
    p = Path(path).expanduser()
    text = (
        "# Written by `kafkaops demo` for its embedded clusters (Tansu, in memory).\n"
        f"# Valid while that demo runs (pid {os.getpid()}); it removes this file when it stops.\n"
        + yaml.safe_dump(demo_config_data(bootstraps, cluster_settings), sort_keys=False)
    )
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise ConfigError(f"cannot write the demo config to {p}: {e.strerror or e}") from None
    return load_config(p)


def check_config_path(path: str | os.PathLike[str]) -> Path:
    """Fail early (before any broker starts) if the config file cannot be written there.

    Probes by writing a scratch file next to it (permission bits say little to root).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise UsageError(f"--config-out {p}: is a directory; give a file name")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--config-out {p}: {parent} is not a directory")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=p.parent)
        os.close(fd)
        os.unlink(probe)
        if p.exists() and not os.access(p, os.W_OK):
            raise PermissionError(13, "file is not writable")
    except OSError as e:
        raise UsageError(f"--config-out {p}: cannot write there: {e.strerror or e}") from None
    return p
