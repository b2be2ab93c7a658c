"""Readiness: can this process reach the clusters it serves? For a `/readyz` endpoint.

Liveness (`/healthz`) says the process runs and answers; readiness says whether it can do
its job. A bot whose every cluster is unreachable is alive but not ready: a load balancer
or an orchestrator should know, and a person reading the endpoint should see which cluster
does not answer and since when.

`Readiness(services).check()` asks every configured cluster the small question core/kafka/reach.py
asks while work runs (`KafkaConnection.ping`), each bounded by `within` seconds, so a frozen
cluster costs a probe no more than that. Answers are kept for `cache_for` seconds and
concurrent callers share one probe, so a probe storm costs one round of requests. A cluster
that did not answer is `unreachable`, with when it last answered (from any work of this
process: reach.py's `last_answers`), never "ok" on an old answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.kafka.errors import no_answer
from kafkaops.core.kafka.reach import PROBE_TIMEOUT, connect, last_answers

if TYPE_CHECKING:
    from kafkaops.core.services import Services


@dataclass(frozen=True)
class ClusterReadiness:
    name: str
    """Cluster name from config."""
    reachable: bool
    """It answered the newest probe."""
    checked_at: float
    """When the newest probe finished (wall clock, s)."""
    last_ok: float | None
    """When it last answered anything (None: never, since this process started)."""
    error: str | None
    """Why the newest probe failed."""


@dataclass(frozen=True)
class ReadinessReport:
    clusters: tuple[ClusterReadiness, ...]
    """Every configured cluster."""

    @property
    def ready(self) -> bool:
        """At least one cluster answers (the bot still serves what lives there)."""
        return any(c.reachable for c in self.clusters)

    @property
    def status(self) -> str:
        """ready (every cluster answers), degraded (some do), unavailable (none does)."""
        if all(c.reachable for c in self.clusters):
            return "ready"
        return "degraded" if self.ready else "unavailable"

    def as_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "status": self.status,
            "clusters": {
                c.name: {
                    "reachable": c.reachable,
                    "checked_s_ago": round(now - c.checked_at, 1),
                    "last_ok_s_ago": None if c.last_ok is None else round(now - c.last_ok, 1),
                    **({"error": c.error} if c.error else {}),
                }
                for c in self.clusters
            },
        }


class Readiness:
    """Probes of every configured cluster, cached (module docstring)."""

    def __init__(self, services: Services, *, cache_for: float = 5.0,
                 within: float = PROBE_TIMEOUT) -> None:
        self.services = services
        self.cache_for = cache_for
        self.within = within
        self._report: ReadinessReport | None = None
        self._probe: asyncio.Task[ReadinessReport] | None = None

    async def check(self) -> ReadinessReport:
        """The newest report, probing again when it is older than `cache_for`."""
        report = self._report
        if report is not None and report.clusters and \
                time.time() - min(c.checked_at for c in report.clusters) < self.cache_for:
            return report
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._run())
        # shielded: a caller that gives up (a client that hung up) does not cancel the probe
        # the next caller shares
        return await asyncio.shield(self._probe)

    async def _run(self) -> ReadinessReport:
        names = list(self.services.config.clusters)
        self._report = ReadinessReport(tuple(await asyncio.gather(*map(self._one, names))))
        return self._report

    async def _one(self, name: str) -> ClusterReadiness:
        answers = last_answers(self.services)
        error: str | None = None
        try:
            conn = await connect(self.services, name, self.within)
            try:
                async with asyncio.timeout(self.within):
                    await conn.ping()
            except TimeoutError:
                raise no_answer(name, conn.config.bootstrap_servers, self.within) from None
        except KafkaOpsError as e:
            error = str(e)
        now = time.time()
        if error is None:
            answers.answered(name, now)
        return ClusterReadiness(name, error is None, now, answers.last(name), error)
