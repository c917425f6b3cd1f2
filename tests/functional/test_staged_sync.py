"""A batch's bookkeeping is staged while its files are written: it takes effect only when the files
are stored and the batch is claimed, and a failed write leaves sync state, counts and the store's
locks as they were (local and AWS stores)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tally.api.body import split_lines
from tally.domain.control import BatchOutcome, IngestCount
from tally.domain.ports import Warehouse
from tally.services.ingest import IngestService, Principal
from tests.support.deployments import Deployment
from tests.support.records import job, ndjson

pytestmark = pytest.mark.timeout(60)  # a staged sync left holding the store would hang, not fail

WHO = Principal("SITE-A", "k")


class WriteError(Exception):
    pass


@dataclass
class _FailingWarehouse:
    """A warehouse whose partitioned writes fail (a full disk, S3 refusing), all else as `inner`."""

    inner: Warehouse

    def write_partitioned(self, *args: Any, **kwargs: Any) -> list[str]:
        raise WriteError("disk full")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _lines(numbers: range) -> Any:
    return split_lines("application/x-ndjson", ndjson([job(n) for n in numbers]))


def _count(deployment: Deployment) -> int:
    return deployment.services.control.get_sync("SITE-A", "jobs", "cluster1").record_count


def test_a_failed_write_moves_nothing_and_the_retry_counts_every_record(deployment: Deployment) -> None:
    svc = deployment.services
    failing = IngestService(_FailingWarehouse(svc.warehouse), svc.control, 100_000, 300)
    with pytest.raises(WriteError):
        failing.ingest("jobs", _lines(range(1, 51)), WHO)
    state = svc.control.get_sync("SITE-A", "jobs", "cluster1")
    assert (state.latest_event_time, state.record_count) == (None, 0)
    assert svc.control.get_counts("SITE-A") == []
    # Nothing is left holding the store: the same batch, retried, is stored and counted whole.
    retried = svc.ingest.ingest("jobs", _lines(range(1, 51)), WHO)
    assert (retried.accepted, retried.replayed) == (50, False)
    assert _count(deployment) == 50
    assert [c.accepted for c in svc.control.get_counts("SITE-A")] == [50]


def test_failed_writes_in_a_row_leave_the_store_usable(deployment: Deployment) -> None:
    svc = deployment.services
    failing = IngestService(_FailingWarehouse(svc.warehouse), svc.control, 100_000, 300)
    for start in (1, 11, 21):
        with pytest.raises(WriteError):
            failing.ingest("jobs", _lines(range(start, start + 10)), WHO)
    # Other writers of the control store are not kept waiting (a staged sync was left open).
    svc.create_key("SITE-A")
    assert svc.ingest.ingest("jobs", _lines(range(1, 31)), WHO).accepted == 30
    assert _count(deployment) == 30


def _outcome(batch_id: str, accepted: int) -> BatchOutcome:
    return BatchOutcome(batch_id, "SITE-A", "jobs", accepted, 0, 0, [], [])


def _key(n: int) -> bytes:
    return b"\x00\x01" + n.to_bytes(16, "big")


def test_a_staged_sync_is_unseen_until_settled(deployment: Deployment) -> None:
    control = deployment.services.control
    latest = datetime(2026, 11, 3, 12, tzinfo=UTC)
    staged = control.stage_sync("SITE-A", "jobs", [("cluster1", latest, [_key(n) for n in range(3)])])
    count = IngestCount("SITE-A", latest.date(), "jobs", 3, 0, 0)
    assert staged.settle(_outcome("b1", 3), count) is True
    state = control.get_sync("SITE-A", "jobs", "cluster1")
    assert (state.latest_event_time, state.record_count) == (latest, 3)
    assert [(c.accepted, c.day) for c in control.get_counts("SITE-A")] == [(3, latest.date())]


def test_an_abandoned_sync_leaves_its_keys_uncounted(deployment: Deployment) -> None:
    control = deployment.services.control
    latest = datetime(2026, 11, 3, 12, tzinfo=UTC)
    keys = [_key(n) for n in range(4)]
    control.stage_sync("SITE-A", "jobs", [("cluster1", latest, keys)]).abandon()
    assert control.get_sync("SITE-A", "jobs", "cluster1").record_count == 0
    # The same keys staged again are new: the abandoned staging stored none of them.
    again = control.stage_sync("SITE-A", "jobs", [("cluster1", latest, keys)])
    assert again.settle(_outcome("b2", 4), IngestCount("SITE-A", latest.date(), "jobs", 4, 0, 0))
    assert control.get_sync("SITE-A", "jobs", "cluster1").record_count == 4


def test_a_claimed_batch_settles_as_lost_and_counts_nothing(deployment: Deployment) -> None:
    control = deployment.services.control
    latest = datetime(2026, 11, 3, 12, tzinfo=UTC)
    assert control.claim_batch(_outcome("b3", 2))
    staged = control.stage_sync("SITE-A", "jobs", [("cluster1", latest, [_key(1), _key(2)])])
    assert staged.settle(_outcome("b3", 2), IngestCount("SITE-A", latest.date(), "jobs", 2, 0, 0)) is False
    state = control.get_sync("SITE-A", "jobs", "cluster1")
    assert (state.latest_event_time, state.record_count) == (None, 0)
    assert control.get_counts("SITE-A") == []


def test_a_staged_sync_ends_once(deployment: Deployment) -> None:
    control = deployment.services.control
    latest = datetime(2026, 11, 3, 12, tzinfo=UTC)
    count = IngestCount("SITE-A", latest.date(), "jobs", 1, 0, 0)
    staged = control.stage_sync("SITE-A", "jobs", [("cluster1", latest, [_key(1)])])
    assert staged.settle(_outcome("b4", 1), count)
    with pytest.raises(RuntimeError, match="once"):
        staged.settle(_outcome("b4", 1), count)
    with pytest.raises(RuntimeError, match="once"):
        staged.abandon()
    assert control.get_sync("SITE-A", "jobs", "cluster1").record_count == 1
