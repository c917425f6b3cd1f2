"""`tally apel`: take in APEL messages, and publish a site's month as APEL messages into an SSM
outgoing queue or straight to ARGO AMS (the same code as POST /v1/apel and the scheduled
publisher)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tally.cli.common import fail, print_json, services
from tally.services.ingest import Principal

app = typer.Typer(help="APEL messages in and out (SSM directory queues).", no_args_is_help=True)


@app.command("import")
def import_(
    files: Annotated[
        list[Path], typer.Argument(help="APEL message files (text, StAR XML, accelerator JSON).")
    ],
    site: Annotated[
        str, typer.Option(help="The site the messages are taken in for (records of others are refused).")
    ],
) -> None:
    """Take in APEL messages for a site, as POST /v1/apel does."""
    svc = services()
    if svc.control.get_site(site) is None:
        fail(f"no site named {site!r}: create it first with `tally sites add {site}`")
    who = Principal(site, "@cli")
    results = []
    for path in files:
        result = svc.apel.import_message(path.read_bytes(), who)
        results.append({"file": str(path), **dataclasses.asdict(result)})
    print_json(results if len(results) != 1 else results[0])


@app.command("publish")
def publish(
    site: Annotated[str, typer.Option(help="The site to publish.")],
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM; without it, the current and the previous month.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="The SSM outgoing queue (default: apel.outgoing_dir).")
    ] = None,
    ams: Annotated[
        bool, typer.Option("--ams", help="Publish straight to ARGO AMS (apel.ams) instead of a queue.")
    ] = False,
) -> None:
    """Write a site's normalised summaries, syncs, cloud summaries and StAR into an SSM queue."""
    from tally.interop.apel.outbox import PublishError
    from tally.interop.apel.publish import months_to_publish

    svc = services()
    try:
        months = months_to_publish(month, datetime.now(UTC).date())
    except ValueError:
        fail(f"--month takes YYYY-MM, got {month!r}")
    if ams and out is not None:
        fail("--ams and --out name two destinations: give one")
    publisher = svc.apel_publisher
    try:
        to = publisher.ams() if ams else publisher.local_queue(out)
        print_json(dataclasses.asdict(publisher.publish(site, months, to)))
    except PublishError as exc:
        fail(str(exc))
