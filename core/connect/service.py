"""`ConnectService`: one Kafka Connect cluster's connectors, tasks, traces, configs and
offsets, its sink connectors' consumer-group lag, and audited changes.

    async with ConnectService(services, "primary", "ingest") as connect:
        listing = await connect.listing()            # every connector, state, tasks, lag
        plan = await connect.plan(ChangeRequest("restart", "s3-sink", failed_only=True))
        if not plan.noop:                            # nothing to change: say so, write nothing
            result = await connect.apply(plan, actor=local_actor(), face="cli")

Every change is planned from the state read just before (what will happen, the state now),
then applied through core/audit/log.py's record_change: refused on a read_only cluster, audited
on its audit topic with the outcome and the state the REST API reports afterwards. A 409
(rebalance) is retried by the client; `on_retry` hears each retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kafkaops.core.connect.client import ConnectClient, OnRetry
from kafkaops.core.connect.errors import ConnectorNotFound, NotConnect
from kafkaops.core.connect.model import (
    ChangePlan,
    ChangeRequest,
    ChangeResult,
    ConnectListing,
    Connector,
    ConnectorOffsets,
    Plugin,
    SinkLag,
    TaskStatus,
    WorkerInfo,
)
from kafkaops.core.connect.rules import (
    counts_text,
    parse_connector,
    parse_expanded,
    parse_offsets,
    parse_plugins,
    parse_worker,
    plan_change,
)
from kafkaops.core.connect.settings import pick
from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError, Refused

if TYPE_CHECKING:
    from kafkaops.core.services import Services

#: how long apply() waits for the REST API to report the state a change leads to
SETTLE_SECONDS = 15.0
SETTLE_POLL = 0.25
#: a restarted task still FAILED this long after the restart failed again
RESTART_GRACE = 3.0


class ConnectService:
    """Reads and changes of one Connect cluster (clusters.<cluster>.connect[] by name)."""

    def __init__(self, services: Services, cluster: str | None = None,
                 connect: str | None = None, *, client: ConnectClient | None = None) -> None:
        self.services = services
        self.cluster = cluster or services.cluster_name
        cfg = services.cluster_config(self.cluster)
        self.entry = pick(services.config, self.cluster, connect)
        self.client = client or ConnectClient(
            self.cluster, self.entry, index=cfg.connect.index(self.entry),
            timeout=float(cfg.request_timeout))

    @property
    def name(self) -> str:
        """The Connect cluster's name from config."""
        return self.entry.name

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> ConnectService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ reads

    def _shape(self, what: str, e: ValueError) -> NotConnect:
        return NotConnect(f"{self.client.label} answered {what} in a shape Kafka Connect's "
                          f"REST API does not use ({e}); check {self.client.key}.url")

    async def info(self) -> WorkerInfo:
        """Version and Kafka cluster id of the worker (GET /)."""
        body = await self.client.get("/")
        try:
            return parse_worker(self.client.url, body)
        except ValueError as e:
            raise self._shape("GET /", e) from None

    async def plugins(self) -> list[Plugin]:
        body = await self.client.get("/connector-plugins")
        try:
            return parse_plugins(body)
        except ValueError as e:
            raise self._shape("GET /connector-plugins", e) from None

    async def connectors(self) -> list[Connector]:
        """Every connector with state, tasks and config, in one request."""
        body = await self.client.get("/connectors",
                                     params=[("expand", "status"), ("expand", "info")])
        try:
            return parse_expanded(body)
        except ValueError as e:
            raise self._shape("GET /connectors?expand=status&expand=info", e) from None

    async def listing(self, *, lag: bool = True) -> ConnectListing:
        """Version, every connector, and (lag=True) each sink's consumer-group lag. Raises
        a ConnectError when the worker does not answer; a Kafka cluster that does not
        answer only leaves the lag unknown (lag_error says why)."""
        worker, connectors = await asyncio.gather(self.info(), self.connectors())
        read_at = time.time()
        lags: dict[str, SinkLag] = {}
        error = None
        if lag:
            lags, error = await self.sink_lag(connectors)
        return ConnectListing(self.cluster, self.name, self.client.url, read_at, worker,
                              tuple(connectors), lags, error)

    async def sink_lag(self, connectors: Sequence[Connector]
                       ) -> tuple[dict[str, SinkLag], str | None]:
        """connector name -> lag of its consumer group (sinks only), from the cluster's
        shared lag engine; ({}, why) when the Kafka cluster could not be read."""
        by_group = {c.group: c.name for c in connectors if c.group}
        if not by_group:
            return {}, None
        try:
            snap = await (await self.services.lag(self.cluster)).snapshot(list(by_group))
        except ClusterUnreachable as e:
            await self.services.drop(self.cluster)  # reconnect next time
            return {}, str(e)
        except KafkaOpsError as e:
            return {}, str(e)
        out: dict[str, SinkLag] = {}
        for group, name in by_group.items():
            g = snap.group(group)
            if g is None:
                out[name] = SinkLag(group, None, None, "UNKNOWN", "group not reported")
            else:
                out[name] = SinkLag(group, g.lag, g.lag_seconds, g.status.value, g.error)
        return out, None

    def _path(self, name: str, *rest: str) -> str:
        if not name:
            raise ConnectorNotFound(f"{self.client.label}: give a connector name")
        return "/connectors/" + "/".join(quote(p, safe="") for p in (name, *rest))

    async def connector(self, name: str) -> Connector:
        """One connector with state, tasks (and traces) and redacted config. One created a
        moment ago has no status yet: it is UNASSIGNED until the worker writes one."""
        answers: tuple[Any, ...] = await asyncio.gather(
            self.client.get(self._path(name, "status")), self.client.get(self._path(name)),
            return_exceptions=True)
        status, info = answers
        if isinstance(info, BaseException):
            raise info
        if isinstance(status, ConnectorNotFound):
            status = {"connector": {"state": "UNASSIGNED"}, "tasks": []}
        elif isinstance(status, BaseException):
            raise status
        try:
            return parse_connector(name, status, info)
        except ValueError as e:
            raise self._shape(f"connector {name!r}", e) from None

    async def detail(self, name: str, *, lag: bool = True) -> tuple[Connector, SinkLag | None,
                                                                     str | None]:
        """A connector, its sink lag (None for a source) and why the lag is unknown."""
        c = await self.connector(name)
        if not lag or c.group is None:
            return c, None, None
        lags, error = await self.sink_lag([c])
        return c, lags.get(c.name), error

    async def task(self, name: str, task_id: int) -> TaskStatus:
        """One task's status with its trace."""
        c = await self.connector(name)
        t = c.task(task_id)
        if t is None:
            ids = ", ".join(str(x.id) for x in c.tasks) or "none"
            raise ConnectorNotFound(f"{self.client.label}: connector {name!r} has no task "
                                    f"{task_id} (tasks: {ids})")
        return t

    async def offsets(self, name: str) -> ConnectorOffsets:
        body = await self.client.get(self._path(name, "offsets"))
        try:
            return parse_offsets(name, body)
        except ValueError as e:
            raise self._shape(f"the offsets of {name!r}", e) from None

    # ------------------------------------------------------------ changes

    async def plan(self, request: ChangeRequest) -> ChangePlan:
        """What the change will do, from the connector's state now."""
        c = await self.connector(request.connector)
        try:
            return plan_change(request, c, cluster=self.cluster, connect=self.name,
                               read_only=self.services.cluster_config(self.cluster).read_only)
        except ValueError as e:
            raise ConnectorNotFound(f"{self.client.label}: {e}") from None

    async def apply(self, plan: ChangePlan, *, actor: str, face: str,
                    on_retry: OnRetry | None = None) -> ChangeResult:
        """Make the planned change (audited; refused on a read_only cluster) and report the
        state the REST API shows once it settled. A plan that changes nothing is not
        applied and writes nothing; a blocked one raises Refused."""
        if plan.noop:
            return ChangeResult(plan, plan.state, plan.tasks, f"nothing to change: {plan.noop}")
        if plan.blocked:
            raise Refused(plan.blocked)
        from kafkaops.core.audit.log import record_change

        retries: list[str] = []

        async def noted(text: str) -> None:
            retries.append(text)
            if on_retry is not None:
                note = on_retry(text)
                if note is not None:
                    await note

        async def do() -> ChangeResult:
            message = await self._send(plan, noted)
            return await self._settle(plan, message, tuple(retries))

        return await record_change(
            self.services, actor=actor, face=face, action=plan.audit_action,
            target=plan.target, params=plan.params(), apply=do, cluster=plan.cluster,
            summarize=_summary)

    async def _send(self, plan: ChangePlan, on_retry: OnRetry) -> str:
        r = plan.request
        name = r.connector
        method, path, params = _REQUESTS[r.action]
        if r.action == "restart" and r.task is not None:
            method, path, params = "POST", self._path(name, "tasks", str(r.task), "restart"), []
        elif r.action == "restart":
            path = self._path(name, "restart")
            params = [("includeTasks", "true"),
                      ("onlyFailed", "true" if r.failed_only else "false")]
        else:
            path = self._path(name, *path.split("/")) if path else self._path(name)
        status, body, _ = await self.client.request(method, path, params=params,
                                                     on_retry=on_retry)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return str(body["message"])[:500]
        return f"HTTP {status} accepted"

    async def _settle(self, plan: ChangePlan, message: str,
                      retries: tuple[str, ...]) -> ChangeResult:
        """Read the status until it shows what the change leads to (or SETTLE_SECONDS)."""
        name = plan.request.connector
        want = _settled(plan)
        started = time.monotonic()
        deadline = started + SETTLE_SECONDS
        while True:
            try:
                c = await self.connector(name)
            except ConnectorNotFound:
                if plan.request.action == "delete":
                    return ChangeResult(plan, "DELETED", (), message, retries)
                raise
            if want(c, time.monotonic() - started) or time.monotonic() > deadline:
                return ChangeResult(plan, c.state, c.tasks, message, retries)
            await asyncio.sleep(SETTLE_POLL)


#: action -> (method, path after /connectors/<name>, query); restart is built in _send
_REQUESTS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "restart": ("POST", "restart", []),
    "pause": ("PUT", "pause", []),
    "resume": ("PUT", "resume", []),
    "stop": ("PUT", "stop", []),
    "delete": ("DELETE", "", []),
    "reset-offsets": ("DELETE", "offsets", []),
}


def _settled(plan: ChangePlan) -> Callable[[Connector, float], bool]:
    """When the REST API's answer reflects the change (given the seconds since it was made).

    A restart is acknowledged before it happens: for a moment the status still shows the
    old FAILED (measured: about 0.1 s on a local worker), so a task still FAILED counts as
    "failed again" only after RESTART_GRACE seconds."""
    r = plan.request
    busy = ("RESTARTING", "UNASSIGNED")
    if r.action == "pause":
        return lambda c, _: c.state == "PAUSED" and all(t.state == "PAUSED" for t in c.tasks)
    if r.action == "resume":
        return lambda c, _: c.state in ("RUNNING", "FAILED") and bool(c.tasks) and not any(
            t.state in (*busy, "PAUSED") for t in c.tasks)
    if r.action == "stop":
        return lambda c, _: c.state == "STOPPED" and not c.tasks
    if r.action == "restart":
        targets = set(plan.targets)

        def restarted(c: Connector, elapsed: float) -> bool:
            mine = [t for t in c.tasks if t.id in targets or not targets]
            if c.state in busy or any(t.state in busy for t in mine):
                return False
            failed = c.state == "FAILED" or any(t.state == "FAILED" for t in mine)
            return not failed or elapsed > RESTART_GRACE

        return restarted
    return lambda c, _: True  # delete (settled by the 404), offsets reset (no state change)


def _summary(result: ChangeResult) -> dict[str, Any]:
    """The audit record's detail: the state after, and what the worker said."""
    counts: dict[str, int] = {}
    for t in result.tasks:
        counts[t.state] = counts.get(t.state, 0) + 1
    return {"state_after": result.state, "tasks_after": counts_text(counts),
            "message": result.message, "rebalance_retries": len(result.retries)}
