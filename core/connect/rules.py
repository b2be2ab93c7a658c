"""Pure rules of the Connect capability: reading the REST API's JSON into core's records,
redacting secrets, counting tasks, and what a change will do given the state now.

No I/O here; tests feed these tables. Everything from the REST API is untrusted: shapes are
checked (ValueError names what is wrong; the client turns it into NotConnect) and texts are
bounded in size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kafkaops.core.connect.model import (
    STATES,
    ChangePlan,
    ChangeRequest,
    Connector,
    ConnectorOffset,
    ConnectorOffsets,
    Plugin,
    TaskStatus,
    WorkerInfo,
)

REDACTED = "***"
#: config keys whose values are secrets (matched anywhere in the key, case-insensitive):
#: passwords, secrets, tokens, credentials, JAAS configs, private and API keys, basic
#: auth user info (schema registry), connection URLs that may embed a password
_SECRET_KEY = re.compile(
    r"password|passwd|secret|token|credential|jaas|private\.?key|api\.?key|access\.?key|"
    r"auth\.user\.info|user\.info|keystore\.key",
    re.IGNORECASE)
#: values that carry a password in a URL: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]+:)[^@\s]+(?=@)")
#: longest trace kept from the REST API (a Java trace is a few KB; a hostile one is not)
MAX_TRACE = 64 * 1024
MAX_TEXT = 4096


# ---------------------------------------------------------------- secrets


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact_config(config: Mapping[str, Any]) -> dict[str, str]:
    """A connector config fit to show: secret keys' values replaced by ***, passwords inside
    URLs too. Keys sorted."""
    out: dict[str, str] = {}
    for key in sorted(config, key=str):
        value = "" if config[key] is None else str(config[key])
        if is_secret_key(str(key)) and value:
            out[str(key)] = REDACTED
        else:
            out[str(key)] = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, value)
    return out


# ---------------------------------------------------------------- reading the REST API


def _text(value: Any, what: str, *, limit: int = MAX_TEXT, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value[:limit]


def parse_worker(url: str, body: Any) -> WorkerInfo:
    """`GET /`: {"version", "commit", "kafka_cluster_id"}."""
    if not isinstance(body, dict) or "version" not in body or "kafka_cluster_id" not in body:
        raise ValueError("GET / did not return Connect's {version, commit, kafka_cluster_id}")
    return WorkerInfo(url, _text(body["version"], "version", limit=100),
                      _text(body.get("commit"), "commit", limit=100, optional=True),
                      _text(body["kafka_cluster_id"], "kafka_cluster_id", limit=200))


def parse_plugins(body: Any) -> list[Plugin]:
    if not isinstance(body, list):
        raise ValueError("GET /connector-plugins did not return a list")
    out = []
    for p in body:
        if not isinstance(p, dict):
            raise ValueError("a plugin is not an object")
        out.append(Plugin(_text(p.get("class"), "plugin class", limit=500),
                          _text(p.get("type"), "plugin type", limit=50, optional=True),
                          _text(p.get("version"), "plugin version", limit=100, optional=True)))
    return sorted(out, key=lambda p: (p.type, p.class_name))


def parse_task(body: Any) -> TaskStatus:
    if not isinstance(body, dict) or not isinstance(body.get("id"), int) \
            or isinstance(body.get("id"), bool):
        raise ValueError("a task status has no numeric id")
    trace = body.get("trace")
    return TaskStatus(
        id=body["id"], state=_text(body.get("state"), "task state", limit=50),
        worker_id=_text(body.get("worker_id"), "worker_id", limit=300, optional=True) or None,
        trace=_text(trace, "trace", limit=MAX_TRACE) if trace is not None else None)


def sink_group(name: str, config: Mapping[str, Any]) -> str:
    """A sink connector's consumer group: `connect-<name>`, unless its config overrides it
    (`consumer.override.group.id`, allowed by the worker's override policy)."""
    override = config.get("consumer.override.group.id")
    return str(override) if override else f"connect-{name}"


def parse_connector(name: str, status: Any, info: Any) -> Connector:
    """One connector from `GET /connectors?expand=status&expand=info` (or the two single
    endpoints): its status and its info (config, type)."""
    if not isinstance(status, dict) or not isinstance(status.get("connector"), dict):
        raise ValueError(f"connector {name!r}: the status has no connector object")
    tasks_raw = status.get("tasks") or []
    if not isinstance(tasks_raw, list):
        raise ValueError(f"connector {name!r}: tasks is not a list")
    raw_config: Mapping[str, Any] = {}
    ctype = status.get("type")
    if isinstance(info, dict):
        if isinstance(info.get("config"), dict):
            raw_config = info["config"]
        ctype = ctype or info.get("type")
    ctype = _text(ctype, "type", limit=50, optional=True) or "unknown"
    inst = status["connector"]
    trace = inst.get("trace")
    class_name = str(raw_config.get("connector.class", ""))[:500]
    return Connector(
        name=name[:MAX_TEXT], type=ctype,
        state=_text(inst.get("state"), "connector state", limit=50),
        worker_id=_text(inst.get("worker_id"), "worker_id", limit=300, optional=True) or None,
        trace=_text(trace, "trace", limit=MAX_TRACE) if trace is not None else None,
        tasks=tuple(sorted((parse_task(t) for t in tasks_raw), key=lambda t: t.id)),
        config=redact_config(raw_config), class_name=class_name,
        group=sink_group(name, raw_config) if ctype == "sink" else None,
    )


def parse_expanded(body: Any) -> list[Connector]:
    """`GET /connectors?expand=status&expand=info`: {name: {status: ..., info: ...}}."""
    if not isinstance(body, dict):
        raise ValueError("GET /connectors?expand=status did not return an object by name")
    out = []
    for name, entry in body.items():
        if not isinstance(entry, dict):
            raise ValueError(f"connector {name!r}: not an object")
        status = entry.get("status")
        if status is None:  # created a moment ago: no status written yet
            status = {"connector": {"state": "UNASSIGNED"}, "tasks": []}
        out.append(parse_connector(str(name), status, entry.get("info")))
    return sorted(out, key=lambda c: c.name)


def parse_offsets(name: str, body: Any) -> ConnectorOffsets:
    if not isinstance(body, dict) or not isinstance(body.get("offsets"), list):
        raise ValueError("GET /offsets did not return {offsets: [...]}")
    out = []
    for o in body["offsets"]:
        if not isinstance(o, dict) or not isinstance(o.get("partition"), dict):
            raise ValueError("an offset has no partition object")
        off = o.get("offset")
        out.append(ConnectorOffset(dict(o["partition"]),
                                   dict(off) if isinstance(off, dict) else None))
    return ConnectorOffsets(name, tuple(out))


# ---------------------------------------------------------------- for people


def counts_text(counts: Mapping[str, int]) -> str:
    """"1 FAILED, 2 RUNNING": the worst states first; "no tasks" when empty."""
    if not counts:
        return "no tasks"
    order = {s: i for i, s in enumerate(STATES)}
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items(),
                                                     key=lambda kv: (order.get(kv[0], 99), kv[0])))


def trace_headline(trace: str | None) -> str:
    """What a Java trace says in one line: its first line, and the root cause if there is
    one. "" for no trace."""
    if not trace:
        return ""
    lines = [ln.strip() for ln in trace.splitlines() if ln.strip()]
    if not lines:
        return ""
    head = lines[0]
    causes = [ln[len("Caused by:"):].strip() for ln in lines if ln.startswith("Caused by:")]
    if causes and causes[-1] not in head:
        head += f" (caused by {causes[-1]})"
    return head[:500]


def problem(c: Connector) -> str:
    """The one line on-call reads first: the connector's or its first failed task's cause."""
    if c.state == "FAILED":
        return trace_headline(c.trace) or "connector FAILED (no trace reported)"
    failed = c.failed_tasks
    if failed:
        return f"task {failed[0].id}: " + (trace_headline(failed[0].trace) or "FAILED")
    return ""


def _ids(ids: Iterable[int]) -> str:
    ids = list(ids)
    return ", ".join(str(i) for i in ids) if ids else "none"


# ---------------------------------------------------------------- planning a change


def plan_change(request: ChangeRequest, c: Connector, *, cluster: str, connect: str,
                read_only: bool = False) -> ChangePlan:
    """What `request` will do to connector `c` as it is now. Raises ValueError for a task
    the connector does not have."""
    name, state = c.name, c.state
    a = request.action
    noop = blocked = None
    targets: tuple[int, ...] = ()
    if a == "restart":
        if request.task is not None:
            task = c.task(request.task)
            if task is None:
                raise ValueError(f"connector {name!r} has no task {request.task} "
                                 f"(tasks: {_ids(t.id for t in c.tasks)})")
            targets = (task.id,)
            will = f"Restart task {task.id} of {name} (now {task.state})."
        elif request.failed_only:
            targets = tuple(t.id for t in c.failed_tasks)
            if state != "FAILED" and not targets:
                noop = (f"nothing has failed in {name}: the connector is {state} and its "
                        f"tasks are {counts_text(c.task_counts)}")
            parts = (["the connector instance (FAILED)"] if state == "FAILED" else []) + (
                [f"failed task(s) {_ids(targets)}"] if targets else [])
            will = f"Restart {' and '.join(parts) or 'nothing'} of {name}; running tasks " \
                   "are left alone."
        else:
            targets = tuple(t.id for t in c.tasks)
            will = (f"Restart {name}: the connector instance and all {len(targets)} task(s) "
                    f"({_ids(targets)}).")
        if state in ("PAUSED", "STOPPED"):
            will += f" It stays {state}: restarting does not resume it."
    elif a == "pause":
        if state == "PAUSED":
            noop = f"{name} is already PAUSED"
        will = (f"Pause {name}: {state} → PAUSED. Its {len(c.tasks)} task(s) stop processing "
                "and keep their assignments; resume starts them again.")
    elif a == "resume":
        if state in ("RUNNING", "FAILED", "UNASSIGNED", "RESTARTING"):
            noop = (f"{name} is {state}, not paused or stopped: resume changes nothing"
                    + (" (a FAILED connector needs a restart)" if c.failed else ""))
        will = f"Resume {name}: {state} → RUNNING; its tasks start again."
    elif a == "stop":
        if state == "STOPPED":
            noop = f"{name} is already STOPPED"
        will = (f"Stop {name}: {state} → STOPPED. Its tasks shut down and are unassigned; the "
                "config stays, and its offsets can then be reset.")
    elif a == "delete":
        will = (f"Delete {name} ({c.type}, {state}): its config and tasks are removed. Its "
                "committed offsets stay" + (f" (consumer group {c.group})" if c.group else "")
                + ".")
    elif a == "reset-offsets":
        if state != "STOPPED":
            blocked = (f"{name} is {state}: offsets can only be reset while it is STOPPED "
                       f"(stop it first: `kafkaops connect stop {name}`)")
        will = (f"Reset the offsets of {name}: it starts from "
                + ("the beginning of its topics (or auto.offset.reset)" if c.type == "sink"
                   else "scratch, as its source connector defines it")
                + " when resumed.")
    else:  # pragma: no cover - ChangeRequest.action is a Literal
        raise ValueError(f"unknown change {a!r}")
    return ChangePlan(cluster=cluster, connect=connect, request=request, state=state,
                      tasks=c.tasks, will=will, targets=targets, noop=noop, blocked=blocked,
                      read_only=read_only)
