"""The brokers of a cluster, with their configs as each broker reports them.

Defaults are marked as defaults only where the broker says so (DescribeConfigs'
config_source, KIP-226); a broker that reports no configs at all (Tansu 0.6 answers an
empty list for its broker resource) is said to report none: nothing is made up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.core.admin import wire
from kafkaops.core.records import BrokerInfo

if TYPE_CHECKING:
    from kafkaops.core.services import Services

#: DescribeConfigs config_source codes (KIP-226) as words
SOURCES = {
    1: "topic",
    2: "broker (dynamic)",
    3: "cluster default (dynamic)",
    4: "broker (static)",
    5: "default",
    6: "logger",
    7: "client metrics",
    8: "group",
}
DEFAULT_SOURCE = "default"


@dataclass(frozen=True)
class BrokerConfig:
    name: str
    """Config name."""
    value: str | None
    """Its value; None when the broker hides it (sensitive) or has none."""
    source: str
    """Where the value comes from, as the broker reports it (SOURCES)."""
    sensitive: bool = False
    """The broker hides the value."""
    read_only: bool = False
    """The broker says it cannot be changed while running."""

    @property
    def is_default(self) -> bool:
        return self.source == DEFAULT_SOURCE


@dataclass(frozen=True)
class Broker:
    """One broker, as the cluster's metadata and (when asked) DescribeConfigs report it."""

    info: BrokerInfo
    """Node id, host, port, rack, controller."""
    configs: tuple[BrokerConfig, ...] | None = None
    """Its configs by name; None when they were not asked for. Empty when the broker
    reports none."""

    def to_jsonable(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "node_id": self.info.node_id, "host": self.info.host, "port": self.info.port,
            "rack": self.info.rack, "controller": self.info.is_controller,
        }
        if self.configs is not None:
            out["configs"] = [{"name": c.name, "value": c.value, "source": c.source,
                               "default": c.is_default, "sensitive": c.sensitive,
                               "read_only": c.read_only} for c in self.configs]
        return out


def broker_config(entry: dict[str, Any]) -> BrokerConfig:
    """One DescribeConfigs entry (v1+ has config_source; v0 only is_default)."""
    source_code = entry.get("config_source")
    if source_code is None:
        source = DEFAULT_SOURCE if entry.get("is_default") else "broker"
    else:
        source = SOURCES.get(int(source_code), f"source {source_code}")
    sensitive = bool(entry.get("is_sensitive"))
    return BrokerConfig(
        name=str(entry["config_names"]),
        value=None if sensitive else entry.get("config_value"),
        source=source, sensitive=sensitive, read_only=bool(entry.get("read_only")),
    )


async def list_brokers(services: Services, cluster: str | None = None, *,
                       configs: bool = False) -> list[Broker]:
    """Every broker in the metadata, by node id; with `configs`, each one's configs."""
    conn = await services.connection(cluster)
    meta = await conn.metadata([])
    infos = list(meta.brokers)
    if not configs:
        return [Broker(b) for b in infos]
    reported = await wire.describe_broker_configs(conn, [b.node_id for b in infos])
    return [
        Broker(b, tuple(sorted((broker_config(e) for e in reported.get(b.node_id, ())),
                               key=lambda c: c.name)))
        for b in infos
    ]
