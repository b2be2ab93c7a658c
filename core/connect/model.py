"""What core says about Kafka Connect: frozen records, JSON-friendly (`records.to_jsonable`).

httpx types never leave core/connect; faces receive these. States are the REST API's own
words (RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED, RESTARTING), never translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: connector and task states the REST API reports, in the order faces list them
STATES = ("FAILED", "RUNNING", "RESTARTING", "UNASSIGNED", "PAUSED", "STOPPED")
#: a state that is not one of these (a newer worker's word) is shown as reported
Action = Literal["restart", "pause", "resume", "stop", "delete", "reset-offsets"]
ACTIONS: tuple[Action, ...] = ("restart", "pause", "resume", "stop", "delete", "reset-offsets")


@dataclass(frozen=True)
class WorkerInfo:
    """`GET /` of the worker the config names."""

    url: str
    """The REST URL asked."""
    version: str
    """Kafka Connect version, e.g. 3.9.0."""
    commit: str
    """The build's commit id."""
    kafka_cluster_id: str
    """Id of the Kafka cluster the worker uses."""


@dataclass(frozen=True)
class Plugin:
    """A connector plugin installed on the worker."""

    class_name: str
    """Fully qualified class name."""
    type: str
    """source or sink (or what the worker reports)."""
    version: str
    """Plugin version."""


@dataclass(frozen=True)
class TaskStatus:
    """One task of a connector, as the status endpoint reports it."""

    id: int
    """Task number within its connector, from 0."""
    state: str
    """RUNNING, FAILED, PAUSED, UNASSIGNED, RESTARTING, ..."""
    worker_id: str | None
    """host:port of the worker running it; None when not reported."""
    trace: str | None = None
    """Java stack trace of the failure (FAILED tasks); None otherwise."""


@dataclass(frozen=True)
class Connector:
    """One connector with its state, tasks and config."""

    name: str
    """Connector name."""
    type: str
    """source, sink, or unknown."""
    state: str
    """The connector instance's state."""
    worker_id: str | None
    """Worker running the connector instance."""
    trace: str | None
    """Stack trace when the connector instance itself FAILED."""
    tasks: tuple[TaskStatus, ...]
    """Its tasks, by id."""
    config: Mapping[str, str]
    """Its config with secrets redacted (see rules.redact_config)."""
    class_name: str
    """connector.class."""
    group: str | None = None
    """A sink's consumer group (`connect-<name>` unless its config overrides it)."""

    @property
    def task_counts(self) -> dict[str, int]:
        """Tasks per state: {"RUNNING": 2, "FAILED": 1}."""
        out: dict[str, int] = {}
        for t in self.tasks:
            out[t.state] = out.get(t.state, 0) + 1
        return out

    @property
    def failed_tasks(self) -> tuple[TaskStatus, ...]:
        return tuple(t for t in self.tasks if t.state == "FAILED")

    @property
    def failed(self) -> bool:
        """The connector or one of its tasks FAILED."""
        return self.state == "FAILED" or bool(self.failed_tasks)

    def task(self, task_id: int) -> TaskStatus | None:
        return next((t for t in self.tasks if t.id == task_id), None)


@dataclass(frozen=True)
class SinkLag:
    """How far a sink connector's consumer group is behind, from core's lag engine."""

    group: str
    """The consumer group (`connect-<name>`)."""
    lag: int | None
    """Records not yet delivered; None when not known."""
    lag_seconds: float | None
    """Age of the oldest record not yet delivered; None when not known."""
    status: str
    """Lag status (OK, WARN, STOP, ... UNKNOWN), as `kafkaops lag` judges it."""
    error: str | None = None
    """Why it is not known (the Kafka cluster did not answer, ...)."""


@dataclass(frozen=True)
class ConnectListing:
    """Every connector of one Connect cluster, read in one request, with sink lag."""

    cluster: str
    """Kafka cluster (from config) the Connect cluster belongs to."""
    connect: str
    """Connect cluster name (clusters.<cluster>.connect[].name)."""
    url: str
    """REST URL asked."""
    read_at: float
    """When the worker answered (epoch seconds)."""
    worker: WorkerInfo
    """Version and Kafka cluster id of the worker at url."""
    connectors: tuple[Connector, ...]
    """Connectors by name."""
    lag: Mapping[str, SinkLag] = field(default_factory=dict)
    """Sink connector name -> its consumer group's lag."""
    lag_error: str | None = None
    """Why sink lag could not be read this time (None when it was)."""

    @property
    def workers(self) -> tuple[str, ...]:
        """Workers seen running a connector or task (host:port), sorted."""
        seen = {c.worker_id for c in self.connectors if c.worker_id}
        seen |= {t.worker_id for c in self.connectors for t in c.tasks if t.worker_id}
        return tuple(sorted(seen))

    def get(self, name: str) -> Connector | None:
        return next((c for c in self.connectors if c.name == name), None)


@dataclass(frozen=True)
class ConnectorOffset:
    """One source partition's (or sink topic partition's) committed offset."""

    partition: Mapping[str, Any]
    """The connector's partition: {"kafka_topic": ..., "kafka_partition": 0} for a sink,
    whatever the source connector defines (e.g. {"filename": ...})."""
    offset: Mapping[str, Any] | None
    """Its offset ({"kafka_offset": 42}, {"position": 6}); None after a reset."""


@dataclass(frozen=True)
class ConnectorOffsets:
    connector: str
    """Connector name."""
    offsets: tuple[ConnectorOffset, ...]
    """As `GET /connectors/<name>/offsets` reports them."""


@dataclass(frozen=True)
class ChangeRequest:
    """A change someone asked for, before anything is read."""

    action: Action
    """restart, pause, resume, stop, delete or reset-offsets."""
    connector: str
    """Connector name."""
    task: int | None = None
    """restart: only this task."""
    failed_only: bool = False
    """restart: only the failed tasks (and the connector instance if it failed)."""


@dataclass(frozen=True)
class ChangePlan:
    """What a change will do, from the state read just before: shown, confirmed, applied."""

    cluster: str
    """Kafka cluster the Connect cluster belongs to (its read_only guards the change)."""
    connect: str
    """Connect cluster name."""
    request: ChangeRequest
    """What was asked."""
    state: str
    """The connector's state now."""
    tasks: tuple[TaskStatus, ...]
    """Its tasks now."""
    will: str
    """What will happen, in one or two sentences."""
    targets: tuple[int, ...] = ()
    """restart: the task ids it restarts (all, the failed ones, or the one asked)."""
    noop: str | None = None
    """Set when nothing would change (already paused, nothing failed): why."""
    blocked: str | None = None
    """Set when the change cannot be made now (offsets reset while running): why."""
    read_only: bool = False
    """The Kafka cluster is read_only: the plan can be shown, not applied."""

    @property
    def audit_action(self) -> str:
        """The audit trail's action: connect.restart, connect.pause, ..."""
        return f"connect.{self.request.action}"

    @property
    def target(self) -> str:
        """What the audit trail names: connect/<connect>/<connector>[/task N]."""
        t = f"{self.connect}/{self.request.connector}"
        return t + (f"/task {self.request.task}" if self.request.task is not None else "")

    def params(self) -> dict[str, Any]:
        """The audit record's parameters."""
        return {"connect": self.connect, "connector": self.request.connector,
                "task": self.request.task, "failed_only": self.request.failed_only,
                "state_before": self.state, "tasks": list(self.targets)}


@dataclass(frozen=True)
class ChangeResult:
    """A change applied, and the state the REST API reports right after."""

    plan: ChangePlan
    """The plan that was applied."""
    state: str
    """The connector's state after ("DELETED" once deleted)."""
    tasks: tuple[TaskStatus, ...]
    """Its tasks after."""
    message: str
    """What the worker said (its JSON message), or what we saw."""
    retries: tuple[str, ...] = ()
    """The 409 answers (rebalance) that were retried before it went through."""
