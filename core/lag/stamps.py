"""Record timestamps the lag engine has read, kept on disk from one process to the next.

Lag in seconds needs the timestamp of the record at each lagging group's committed offset
(core/lag/timestamps.py). Reading them is most of a first snapshot's cost on a big cluster
(10,000 lagging partitions: about 700 Fetches), and a `kafkaops lag` process takes only
first snapshots. A record's timestamp at an offset never changes while its topic lives,
and a topic deleted and created again gets a new topic id (KIP-516), so what one run read
serves the next run for every topic whose id is unchanged; only offsets that moved are
read again.

The file is a cache, never a source of truth:
- entries are kept per topic with the topic's id and used only when the broker answers the
  same id for that topic now; a broker without topic ids (before Kafka 2.8) gets no file;
- a file that cannot be read, parsed or does not have the expected shape is ignored (and
  replaced by the next save), so a damaged or hostile file can cost a slower snapshot, never
  a wrong number of records; an entry can at worst misstate an age, and only for a topic id
  that the file's writer knew;
- it is written whole to a temporary file and renamed, readable by its owner only.

Where: `$KAFKAOPS_CACHE_DIR/lag/`, else `$XDG_CACHE_HOME/kafkaops/lag/` (`~/.cache`), one
file per cluster (named by a hash of its bootstrap servers). Only `kafkaops lag` uses it (the
console and the bot run long and keep their timestamps in memory, writing nothing to
disk). Config `lag.remember_timestamps: false` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: layout version written in the file; another version is ignored
VERSION = 1
#: entries kept in a file at most (the newest snapshot's needs come first)
MAX_ENTRIES = 200_000

#: (topic, partition, offset) -> record timestamp (ms)
Stamps = dict[tuple[str, int, int], int]


def cache_dir() -> Path:
    """kafkaops's cache directory for this user: $KAFKAOPS_CACHE_DIR, else
    $XDG_CACHE_HOME/kafkaops (~/.cache/kafkaops)."""
    own = os.environ.get("KAFKAOPS_CACHE_DIR")
    if own:
        return Path(own)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kafkaops"


def store_for(config: Any, bootstrap: str) -> TimestampStore | None:
    """The timestamp file of the cluster at `bootstrap`, None when config turns it off."""
    if not config.lag.remember_timestamps:
        return None
    return TimestampStore.for_cluster(bootstrap)


class TimestampStore:
    """One cluster's file of record timestamps (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_cluster(cls, bootstrap: str, directory: Path | None = None) -> TimestampStore:
        key = hashlib.sha256(bootstrap.encode("utf-8")).hexdigest()[:20]
        return cls((directory or cache_dir() / "lag") / f"{key}.json")

    def load(self, ids: dict[str, str]) -> Stamps:
        """The stored timestamps of topics whose id is still `ids[topic]`; {} when the file
        is missing or not one this version wrote."""
        import orjson

        try:
            raw = self.path.read_bytes()
        except OSError:
            return {}
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.info("ignoring %s: not JSON", self.path)
            return {}
        out: Stamps = {}
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            return out
        topics = doc.get("topics")
        if not isinstance(topics, dict):
            return out
        for topic, entry in topics.items():
            if not (isinstance(entry, list) and len(entry) == 2):
                continue
            topic_id, flat = entry
            if ids.get(topic) != topic_id or not isinstance(flat, list) or len(flat) % 3:
                continue
            if not all(type(v) is int for v in flat):
                continue  # bool is not int here: only whole numbers count
            for i in range(0, len(flat), 3):
                partition, offset, ts = flat[i], flat[i + 1], flat[i + 2]
                if partition >= 0 and offset >= 0:
                    out[(topic, partition, offset)] = ts
            if len(out) >= MAX_ENTRIES:
                break
        return out

    def save(self, stamps: Stamps, ids: dict[str, str]) -> bool:
        """Write the timestamps of topics with a known id; False when it could not be
        written (the snapshot does not depend on it)."""
        import orjson

        topics: dict[str, list[object]] = {}
        kept = 0
        for (topic, partition, offset), ts in stamps.items():
            topic_id = ids.get(topic)
            if topic_id is None:
                continue
            entry = topics.get(topic)
            if entry is None:
                entry = topics[topic] = [topic_id, []]
            flat = entry[1]
            assert isinstance(flat, list)
            flat += (partition, offset, ts)
            kept += 1
            if kept >= MAX_ENTRIES:
                break
        data = orjson.dumps({"version": VERSION, "topics": topics})
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".stamps-")
            with os.fdopen(fd, "wb") as f:  # mkstemp's file is the owner's only (0600)
                f.write(data)
            os.replace(tmp, self.path)
            tmp = None
        except OSError as e:
            log.info("could not write %s: %s", self.path, e)
            return False
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return True
