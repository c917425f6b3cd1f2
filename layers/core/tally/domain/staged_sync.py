"""Staged bookkeeping for control stores that have nothing to do before the claim.

A store whose writes are separate remote calls (DynamoDB) cannot hold a batch's keys unseen while
its data files are written, so staging keeps the updates and `settle` makes today's three calls in
their safe order: claim, then sync state, then counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tally.domain.control import BatchOutcome, IngestCount
from tally.domain.ports import ControlStore


@dataclass
class ClaimThenAccount:
    store: ControlStore
    site: str
    kind: str
    updates: Sequence[tuple[str, datetime, Sequence[bytes]]]
    _done: bool = field(default=False, init=False)

    def settle(self, outcome: BatchOutcome, count: IngestCount) -> bool:
        self._finish()
        if not self.store.claim_batch(outcome):
            return False
        if self.updates:
            self.store.advance_sync_many(self.site, self.kind, self.updates)
        self.store.add_counts(count)
        return True

    def abandon(self) -> None:
        self._finish()

    def _finish(self) -> None:
        if self._done:
            raise RuntimeError("a staged sync is settled or abandoned once")
        self._done = True
