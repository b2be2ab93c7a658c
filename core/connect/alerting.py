"""Alert rules on Kafka Connect connectors: the check made when config is loaded, and what
the alert evaluator (core/alerts/runner.py) measures for them.

    - name: connector-failing
      match: {cluster: primary, connector: "s3-*"}     # also `connect:` (its Connect cluster)
      when: failed_tasks > 0                           # or `connector_failed`
      channel: C0123INGEST

Each connector of each Connect cluster a rule matches is one subject (cluster, connect,
connector). A Connect cluster that does not answer leaves its connectors' alerts as they
are (unknown changes nothing); a connector that is gone from a cluster that answered
resolves its alert.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from kafkaops.core.alerts.model import MetricRule, Observation, Subject
from kafkaops.core.connect.model import ConnectListing
from kafkaops.core.errors import ConfigError, KafkaOpsError

if TYPE_CHECKING:
    from kafkaops.core.config import Config
    from kafkaops.core.services import Services

#: longest a Connect cluster may take to answer one evaluation
OBSERVE_TIMEOUT = 30.0


def check_connector_rule(match: Mapping[str, str], config: Config, where: str,
                         metrics: Sequence[str]) -> None:
    """ConfigError when a connector rule can match no Connect cluster."""
    pattern = match.get("cluster", "*")
    clusters = [n for n, c in config.clusters.items()
                if fnmatch.fnmatchcase(n, pattern) and c.connect]
    if not clusters:
        which = f" of a cluster matching {pattern!r}" if "cluster" in match else ""
        raise ConfigError(f"{where}: when: {', '.join(metrics)} needs a Kafka Connect "
                          f"cluster{which} under clusters.<name>.connect")
    if "connect" in match:
        names = sorted({e.name for n in clusters for e in config.clusters[n].connect})
        if not any(fnmatch.fnmatchcase(n, match["connect"]) for n in names):
            raise ConfigError(f"{where}: match.connect: {match['connect']!r} matches no "
                              f"Connect cluster (configured: {', '.join(names)})")


def connect_targets(rules: Iterable[MetricRule], config: Config) -> list[tuple[str, str]]:
    """(cluster, Connect cluster) pairs some connector rule matches, in config order."""
    wanted = [r for r in rules if r.scope == "connector"]
    out: list[tuple[str, str]] = []
    for cluster, cc in config.clusters.items():
        for entry in cc.connect:
            if any(fnmatch.fnmatchcase(cluster, r.match.get("cluster", "*"))
                   and fnmatch.fnmatchcase(entry.name, r.match.get("connect", "*"))
                   for r in wanted):
                out.append((cluster, entry.name))
    return out


def connector_observations(listing: ConnectListing) -> list[Observation]:
    """The connector metrics of every connector in a listing."""
    return [Observation(Subject(cluster=listing.cluster, connect=listing.connect,
                                connector=c.name),
                        {"failed_tasks": len(c.failed_tasks),
                         "connector_failed": c.state == "FAILED"})
            for c in listing.connectors]


async def observe_connect(services: Services, rules: Sequence[MetricRule]
                          ) -> tuple[list[Observation], set[str], list[str]]:
    """(observations, `connect:<cluster>/<name>` of each Connect cluster that answered,
    errors in words) for the connector rules; nothing is read without one."""
    from kafkaops.core.connect.service import ConnectService

    targets = connect_targets(rules, services.config)
    observations: list[Observation] = []
    observed: set[str] = set()
    errors: list[str] = []

    async def one(cluster: str, name: str) -> None:
        try:
            async with ConnectService(services, cluster, name) as svc:
                async with asyncio.timeout(OBSERVE_TIMEOUT):
                    listing = await svc.listing(lag=False)
        except TimeoutError:
            errors.append(f"Connect {name!r} (cluster {cluster}) did not answer within "
                          f"{OBSERVE_TIMEOUT:g} s")
            return
        except KafkaOpsError as e:
            errors.append(str(e))
            return
        observations.extend(connector_observations(listing))
        observed.add(f"connect:{cluster}/{name}")

    await asyncio.gather(*(one(c, n) for c, n in targets))
    return observations, observed, errors
