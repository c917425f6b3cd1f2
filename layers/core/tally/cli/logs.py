"""`tally logs import`: a raw accounting file parsed with the agent's parsers and ingested for a site.

The same path as POST /v1/logs/{source} (tally.logs.service), acting for `--site` as that site's
agent key would (its records only); no size limit beyond the machine's memory.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Annotated

import typer

from tally.cli.common import fail, out, print_json, services
from tally.domain.control import RECORDS_WRITE
from tally.logs.parse import LOG_SOURCES, LogFormatError
from tally.services.ingest import Principal

app = typer.Typer(
    help="Import raw batch-system accounting logs and BLAH/CREAM grid identity logs.", no_args_is_help=True
)


@app.command("import")
def import_log(
    source: Annotated[str, typer.Argument(help=f"The log's origin: {', '.join(LOG_SOURCES)}.")],
    file: Annotated[Path, typer.Argument(help="The accounting file (`.gz` is decompressed).")],
    site: Annotated[str, typer.Option("--site", help="The site whose log it is (must exist).")],
    resource: Annotated[str, typer.Option("--resource", help="The resource (cluster) it is from.")],
    fields: Annotated[
        str | None, typer.Option("--fields", help="Slurm: the sacct --format list of a headerless dump.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="IANA zone of the log's local times (default UTC).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")] = False,
) -> None:
    if source not in LOG_SOURCES:
        fail(f"unknown log source {source!r}: use one of {', '.join(LOG_SOURCES)}")
    svc = services()
    if svc.control.get_site(site) is None:
        fail(f"no site named {site!r}: create it first with `tally sites add {site}`")
    data = file.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    who = Principal(site, "@cli", (), frozenset({RECORDS_WRITE}))
    try:
        result = svc.logs.import_log(source, data, who, resource, fields, timezone)
    except LogFormatError as exc:
        fail(str(exc))
    if as_json:
        print_json(
            {
                "source": result.source,
                "kind": result.kind,
                "site": result.site,
                "resource": result.resource,
                "log_id": result.log_id,
                "lines": result.lines,
                "records": result.records,
                "skipped": result.skipped,
                "unparsable": result.unparsable,
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": result.rejected,
                "replayed": result.replayed,
                "quarantine_key": result.quarantine_key,
                "problems": [{"line": p.line, "message": p.message} for p in result.problems[:50]],
                "batch_ids": [b.batch_id for b in result.batches],
            }
        )
        return
    out.print(
        f"{file.name}: {result.lines} lines, {result.records} records: {result.accepted} accepted, "
        f"{result.duplicates} duplicates, {result.rejected} rejected; {result.unparsable} unparsable lines"
        + (f" (quarantined: {result.quarantine_key})" if result.quarantine_key else "")
        + ("; already imported, nothing new written" if result.replayed else ""),
        highlight=False,
        soft_wrap=True,
    )
    for p in result.problems[:20]:
        out.print(f"  line {p.line}: {p.message}", highlight=False, markup=False, soft_wrap=True)
