"""What the flags SDK's client reports and keeps on disk: `ClientStatus` (where the served
values come from and whether they are stale), the `status()` that makes it (`StatusReport`,
a part of FlagClient) and the snapshot file (`write_snapshot`,
`read_snapshot`, `snapshot_age`) a service starting without Kafka serves from.

Used by kafkaops.core.flags.sdk; no Kafka client, audit or face code.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kafkaops.core.flags.model import FlagState, now_iso, state_from_json, state_to_json

if TYPE_CHECKING:
    from kafkaops.core.config import ClusterConfig
    from kafkaops.core.dr.active import ActiveClusterWatcher
    from kafkaops.core.flags.store import FlagStore

SNAPSHOT_FORMAT = "kafkaops-flags-snapshot/1"

ChangeListener = Callable[[str, FlagState | None], None]
StatusListener = Callable[["ClientStatus"], None]


@dataclass(frozen=True)
class ClientStatus:
    source: Literal["kafka", "snapshot", "none"]
    """Where the served values come from: read from Kafka, loaded from the snapshot file, or
    nothing yet (callers get their defaults)."""
    connected: bool
    """The broker answered a fetch within `stale_after` seconds."""
    stale: bool
    """The served values may be out of date: not connected, or not read from Kafka."""
    flags: int
    """Number of flags served."""
    last_contact: float | None
    """Wall-clock time (s) of the last fetch response; None if never connected."""
    values_from: str | None
    """When the served values were read from Kafka or saved to the snapshot (ISO UTC)."""
    error: str | None
    """The last connection problem, in words."""
    snapshot_error: str | None
    """Why the snapshot file could not be used, if it could not."""
    message: str
    """One line for logs and health endpoints."""
    following: str | None = None
    """The DR pair whose active cluster the client follows (None: one fixed cluster)."""
    cluster: str | None = None
    """Following a pair: the cluster the client reads now (the active one)."""
    epoch: int | None = None
    """Following a pair: the active epoch the client is on."""
    values_cluster: str | None = None
    """Following a pair: the cluster the served values were read from (differs from
    `cluster` while a switch has not caught up yet)."""
    switched: str | None = None
    """Following a pair: the last switch of cluster, in words (None: none yet)."""


class StatusReport:
    """FlagClient's status() (kafkaops.core.flags.sdk): what it serves, from where, and
    whether it is stale, in one line for logs and health endpoints."""

    cluster_config: ClusterConfig
    topic: str
    snapshot_path: Path | None
    stale_after: float
    _flags: dict[str, FlagState]
    _source: Literal["kafka", "snapshot", "none"]
    _values_from: str | None
    _error: str | None
    _snapshot_error: str | None
    _store: FlagStore | None
    _follow: ActiveClusterWatcher | None
    _cluster_name: str | None
    _epoch: int | None
    _values_cluster: str | None
    _switched: str | None

    def _live(self) -> bool:
        raise NotImplementedError

    def status(self) -> ClientStatus:
        store = self._store
        now = time.time()
        last = store.last_contact if store is not None else None
        connected = store is not None and last is not None and now - last <= self.stale_after
        stale = not self._live()
        n = len(self._flags)
        if not stale:
            message = f"live: {n} flags from {self.cluster_config.bootstrap_servers}"
        elif self._source == "kafka" and store is not None and connected:
            why = (
                f"re-reading {self.topic}: {store.restarted}"
                if store.restarted and not store.suspect
                else f"the end of {self.topic} is below the offset read; checking whether "
                "it is a new log"
                if store.suspect
                else f"not caught up with {self.topic} yet"
            )
            message = (
                f"STALE: serving the last known good values ({n} flags, read at "
                f"{self._values_from}); {why}"
            )
        elif self._source == "kafka":
            if store is None:
                why = f"not reading {self.topic} now"
            else:
                why = "no answer from Kafka " + (
                    f"for {now - last:.0f}s" if last is not None else "since start")
            message = (
                f"STALE: serving the last known good values ({n} flags, read at "
                f"{self._values_from}); {why}"
            )
        elif self._source == "snapshot":
            message = (
                f"STALE: serving the snapshot {self.snapshot_path} ({n} flags, saved at "
                f"{self._values_from}); not caught up with Kafka yet"
            )
        else:
            snap = (
                f"the snapshot is unusable ({self._snapshot_error})"
                if self._snapshot_error
                else "no snapshot"
            )
            message = (
                f"no flag values yet: not caught up with Kafka and {snap}; "
                "callers get their defaults"
            )
        following = self._follow.pair.name if self._follow is not None else None
        if following is not None:
            where = f"{self._cluster_name} (pair {following}, epoch {self._epoch})"
            if not stale:
                message = f"live: {n} flags from {where}"
            elif self._source == "kafka" and self._values_cluster != self._cluster_name:
                message = (
                    f"STALE: switching to {where}: serving the last known good values from "
                    f"{self._values_cluster} ({n} flags, read at {self._values_from}) until "
                    f"{self._cluster_name}'s {self.topic} is read"
                )
            else:
                message += f"; reading {where}"
        if stale and self._error:
            message += f" ({self._error})"
        return ClientStatus(
            source=self._source,
            connected=connected,
            stale=stale,
            flags=n,
            last_contact=last,
            values_from=self._values_from,
            error=self._error,
            snapshot_error=self._snapshot_error,
            message=message,
            following=following,
            cluster=self._cluster_name,
            epoch=self._epoch,
            values_cluster=self._values_cluster if following is not None else None,
            switched=self._switched,
        )


def write_snapshot(path: Path, topic: str, bootstrap_servers: str, values_from: str | None,
                   flags: Sequence[FlagState]) -> None:
    """Write the served values to `path` atomically (write, fsync, rename). Raises OSError."""
    data = {
        "format": SNAPSHOT_FORMAT,
        "topic": topic,
        "bootstrap_servers": bootstrap_servers,
        "saved_at": now_iso(),
        "values_from": values_from,
        "flags": [state_to_json(f) for f in flags],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_snapshot(path: Path) -> tuple[list[FlagState], str]:
    """The flags in a snapshot file and when they were read; OSError or ValueError when it
    cannot be used."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"not a {SNAPSHOT_FORMAT} file")
    states = [state_from_json(s) for s in data.get("flags", [])]
    return states, str(data.get("values_from") or data.get("saved_at") or "")


def snapshot_age(path: str | os.PathLike[str]) -> float | None:
    """Seconds since the snapshot at `path` was saved, None if unreadable."""
    try:
        data = json.loads(Path(path).read_text())
        saved = datetime.strptime(data["saved_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (datetime.now(UTC) - saved).total_seconds()
