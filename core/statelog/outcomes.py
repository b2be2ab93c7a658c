"""How a writer learns whether its compare-and-set write won: by its write id.

A writer registers the write id before it produces (`expect`), the reader that folds the
log settles it when the fold decides that record (`settle`), and the writer waits for the
future or, with a reader that folds on demand, looks at it once the log is read past its
record (not done: the record was not read back).
No Kafka code here: the flags SDK's reader imports it.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

D = TypeVar("D")


class Outcomes(Generic[D]):
    """Writes this process waits on, by write id, each settled once with its decision."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[D]] = {}

    def expect(self, write_id: str) -> asyncio.Future[D]:
        """Register a write before it is produced; the future gets its decision."""
        fut: asyncio.Future[D] = asyncio.get_running_loop().create_future()
        self._waiting[write_id] = fut
        return fut

    def settle(self, write_id: str | None, decision: D) -> bool:
        """The fold decided `write_id`'s record: hand the decision to its writer, if this
        process waits for it. True when someone was waiting."""
        if write_id is None:
            return False
        fut = self._waiting.pop(write_id, None)
        if fut is None or fut.done():
            return False
        fut.set_result(decision)
        return True

    def forget(self, write_id: str) -> None:
        """Stop waiting for a write (it failed, or its writer gave up)."""
        fut = self._waiting.pop(write_id, None)
        if fut is not None and not fut.done():
            fut.cancel()

    def cancel_all(self) -> None:
        """The reader stops: nobody will settle what is left."""
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.cancel()
