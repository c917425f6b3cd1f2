"""Scheduled reports delivered for real: jobs through the real ingest into Parquet, the report by
DuckDB, mail through aiosmtpd and webhooks to an HTTP server on loopback. Every figure checked
is the hand-computed one in tests.subscriptions.world."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from email.message import Message
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]  # openpyxl ships no type hints
import pypdf
import pytest

from tally.services.container import Services
from tests.alerts.receivers import Mailbox, smtp_server
from tests.subscriptions import world
from tests.subscriptions.receivers import FileHook, file_hook
from tests.subscriptions.world import AFTER_FEBRUARY, AFTER_W09, ANN_EMAIL, FEBRUARY, WEEK_W09, A, B, World


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def hook() -> Iterator[FileHook]:
    with file_hook() as h:
        yield h


@pytest.fixture
def planted(tmp_path: Path, mailbox: Mailbox, hook: FileHook) -> World:
    return world.plant(Services(world.settings_for(tmp_path, mailbox.port, "http://127.0.0.1:")))


def attachment(mail: Message) -> tuple[str, bytes]:
    parts = [p for p in mail.walk() if p.get_filename()]
    assert len(parts) == 1
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(parts[0].get_filename()), payload


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def by_site(rows: list[dict[str, str]]) -> dict[str, tuple[int, Decimal]]:
    return {r["site"]: (int(r["jobs"]), Decimal(r["core_hours"])) for r in rows}


def test_a_weekly_csv_is_mailed_once_for_the_week_just_ended(planted: World, mailbox: Mailbox) -> None:
    subs = planted.svc.subscriptions
    sub = subs.create(planted.ann, world.VIEW, "weekly", "csv", "email", now=world.SUBSCRIBED)
    first = subs.run(AFTER_W09).as_dict()
    assert (first["sent"], first["failed"], first["refused"]) == (1, 0, 0)
    assert len(mailbox.mails) == 1
    rcpt, mail = mailbox.mails[0]
    assert rcpt == [ANN_EMAIL] and "2026-W09" in mail["Subject"] and world.VIEW_TITLE in mail["Subject"]
    name, data = attachment(mail)
    assert name == "by-site-2026-W09.csv"
    rows = csv_rows(data)
    assert list(rows[0]) == ["site", "jobs", "core_hours", "cpu_efficiency"]
    assert by_site(rows) == {s: (n, Decimal(h)) for s, (n, h) in WEEK_W09.items()}
    assert {round(float(r["cpu_efficiency"]), 6) for r in rows} == {0.9}  # cpu = 90 % of core time
    # Re-running, the same day or later in the next week: the period is delivered, nothing resent.
    for later in (AFTER_W09, datetime(2026, 3, 5, 12, tzinfo=UTC), datetime(2026, 3, 8, 23, tzinfo=UTC)):
        again = subs.run(later).as_dict()
        assert (again["sent"], again["done"]) == (0, 1)
    assert len(mailbox.mails) == 1
    [delivery] = subs.deliveries(sub.subscription_id)
    assert (delivery.period, delivery.state, delivery.attempts, delivery.rows) == ("2026-W09", "sent", 1, 2)
    # The next week's end brings the next week (W10: only B's job that ended as it began).
    subs.run(datetime(2026, 3, 9, 0, 15, tzinfo=UTC))
    assert by_site(csv_rows(attachment(mailbox.mails[1][1])[1])) == {B: (1, Decimal(4))}


def test_a_monthly_workbook_by_mail_and_a_pdf_by_webhook(
    planted: World, mailbox: Mailbox, hook: FileHook
) -> None:
    subs = planted.svc.subscriptions
    subs.create(planted.ann, world.VIEW, "monthly", "xlsx", "email", now=world.SUBSCRIBED)
    pdf = subs.create(planted.ann, world.VIEW, "monthly", "pdf", "webhook", hook.url, now=world.SUBSCRIBED)
    outcome = subs.run(AFTER_FEBRUARY).as_dict()
    assert (outcome["sent"], outcome["failed"]) == (2, 0)

    name, data = attachment(mailbox.mails[0][1])
    assert name == "by-site-2026-02.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == ["site", "jobs", "core_hours", "cpu_efficiency"]
    assert {r[0]: (r[1], r[2]) for r in cells[1:]} == {s: (n, h) for s, (n, h) in FEBRUARY.items()}

    [posted] = hook.received
    assert posted.headers["Content-Type"] == "application/pdf"
    assert posted.headers["X-Tally-Period"] == "2026-02"
    assert posted.headers["X-Tally-Subscription"] == pdf.subscription_id
    expected = "sha256=" + hmac.new(b"s3cret", posted.body, hashlib.sha256).hexdigest()
    assert posted.headers["X-Tally-Signature"] == expected
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(posted.body)).pages)
    assert world.VIEW_TITLE in text
    assert "2026-02-01 to 2026-02-28 (UTC)" in text
    # The table's cells in reading order: the header, a row per site, and a totals row with jobs
    # and core hours summed (5 jobs, 40 + 12 = 52 h); cpu_efficiency is a ratio: no total.
    cells_read = " ".join(text.split())
    assert (
        "site jobs core_hours cpu_efficiency SITE-A 3 40.000000 0.900 SITE-B 2 12.000000 0.900" in cells_read
    )
    assert cells_read.endswith("Total 5 52.000000")


def test_a_grant_revoked_after_subscribing_narrows_then_refuses(planted: World, mailbox: Mailbox) -> None:
    svc, subs = planted.svc, planted.svc.subscriptions
    sub = subs.create(planted.ann, world.VIEW, "weekly", "csv", "email", now=world.SUBSCRIBED)
    svc.people.remove_grant(planted.grants[B], "test")
    assert subs.run(AFTER_W09).as_dict()["sent"] == 1
    assert by_site(csv_rows(attachment(mailbox.mails[0][1])[1])) == {A: (3, Decimal(36))}  # B's gone
    svc.people.remove_grant(planted.grants[A], "test")
    refused = subs.run(datetime(2026, 3, 9, 0, 15, tzinfo=UTC)).as_dict()
    assert (refused["sent"], refused["refused"]) == (0, 1)
    assert len(mailbox.mails) == 1
    latest = subs.deliveries(sub.subscription_id)[0]
    assert (latest.period, latest.state) == ("2026-W10", "refused")
    assert "no grant" in latest.detail
    # Refused is final for the period: the next run does not try it again.
    assert subs.run(datetime(2026, 3, 9, 1, tzinfo=UTC)).as_dict()["done"] == 1


def test_a_failing_webhook_is_retried_by_later_runs_a_bounded_number_of_times(
    planted: World, hook: FileHook
) -> None:
    subs = planted.svc.subscriptions
    sub = subs.create(planted.ann, world.VIEW, "weekly", "csv", "webhook", hook.url, now=world.SUBSCRIBED)
    hook.status = 500
    states = []
    for minute in range(5):
        subs.run(datetime(2026, 3, 2, 1, minute, tzinfo=UTC))
        d = subs.deliveries(sub.subscription_id)[0]
        states.append((d.state, d.attempts))
    # max_attempts is 3 in the world's settings: three runs try, the later ones do not.
    assert states == [("failed", 1), ("failed", 2), ("given_up", 3), ("given_up", 3), ("given_up", 3)]
    # Each of those runs POSTed as the alerts' webhook does: 3 tries (their default) per run.
    assert hook.attempts == 3 * 3 and hook.received == []


def test_a_failed_delivery_is_sent_by_the_next_run(planted: World, hook: FileHook) -> None:
    subs = planted.svc.subscriptions
    sub = subs.create(planted.ann, world.VIEW, "weekly", "csv", "webhook", hook.url, now=world.SUBSCRIBED)
    hook.status = 503
    assert subs.run(AFTER_W09).as_dict()["failed"] == 1
    hook.status = 204
    assert subs.run(datetime(2026, 3, 2, 1, tzinfo=UTC)).as_dict()["sent"] == 1
    [d] = subs.deliveries(sub.subscription_id)
    assert (d.state, d.attempts) == ("sent", 2)
    assert by_site(csv_rows(hook.received[0].body)) == {s: (n, Decimal(h)) for s, (n, h) in WEEK_W09.items()}


def test_a_run_late_by_weeks_sends_only_the_last_ended_period(planted: World, mailbox: Mailbox) -> None:
    subs = planted.svc.subscriptions
    sub = subs.create(planted.ann, world.VIEW, "weekly", "csv", "email", now=world.SUBSCRIBED)
    assert subs.run(datetime(2026, 2, 20, tzinfo=UTC)).as_dict()["not_due"] == 1  # W07 ended before
    # The scheduler was down from before W08 ended until W10's Wednesday: W08 and W09 both ended.
    assert subs.run(datetime(2026, 3, 4, 12, tzinfo=UTC)).as_dict()["sent"] == 1
    assert [d.period for d in subs.deliveries(sub.subscription_id)] == ["2026-W09"]
    assert len(mailbox.mails) == 1


def test_a_deleted_view_is_refused_and_recorded(planted: World, mailbox: Mailbox) -> None:
    subs = planted.svc.subscriptions
    sub = subs.create(planted.ann, world.VIEW, "monthly", "pdf", "email", now=world.SUBSCRIBED)
    planted.svc.saved_views.delete(planted.ann, world.VIEW)
    assert subs.run(AFTER_FEBRUARY).as_dict()["refused"] == 1
    [d] = subs.deliveries(sub.subscription_id)
    assert d.state == "refused" and "deleted" in d.detail and mailbox.mails == []


def test_deleting_a_subscription_stops_it(planted: World, mailbox: Mailbox) -> None:
    subs = planted.svc.subscriptions
    sub = subs.create(planted.ann, world.VIEW, "weekly", "csv", "email", now=world.SUBSCRIBED)
    subs.run(AFTER_W09)
    subs.delete(sub.subscription_id, planted.ann)
    outcome = subs.run(datetime(2026, 3, 9, 0, 15, tzinfo=UTC)).as_dict()
    assert outcome["subscriptions"] == 0 and len(mailbox.mails) == 1
