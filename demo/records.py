"""What a demo record generator is: `DemoRecord`, the `RecordGenerator` base (its random
state and sequence) and the fictional company's services, teams and people they draw on.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class DemoRecord:
    """One record a generator wants produced."""

    value: bytes | None
    """The value; None is a tombstone (compacted topics)."""
    key: bytes | None = None
    """The key, where the pattern has one."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Record headers."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class RecordGenerator:
    """Makes the records of one pattern. State (sequence numbers, open orders) lives here."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seq = 0

    def next(self) -> DemoRecord:
        self.seq += 1
        return self.make()

    def make(self) -> DemoRecord:  # pragma: no cover - every pattern overrides it
        raise NotImplementedError

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


SERVICES = ("checkout", "payments-api", "orders-service", "inventory", "search",
            "auth", "notifications", "billing-service", "gateway", "recommendations")
TEAMS = {"checkout": "shop", "payments-api": "payments", "orders-service": "shop",
         "inventory": "fulfilment", "search": "discovery", "auth": "platform",
         "notifications": "platform", "billing-service": "payments", "gateway": "platform",
         "recommendations": "discovery"}
PEOPLE = ("alice", "bob", "chen", "dara", "emeka", "farah", "gustavo", "hana")
