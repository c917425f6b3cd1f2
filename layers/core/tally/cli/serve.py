"""`tally serve`, `tally demo` and `tally openapi`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tally.api.app import create_app
from tally.cli.common import err, fail, services
from tally.demo.loader import demo_keys_path, load_demo, needs_demo
from tally.services.container import Services


def _load_with_progress(svc: Services, jobs: int, months: int) -> None:
    with Progress(
        TextColumn("loading the demo (records, then compaction)"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,  # a bar on a terminal; nothing in a log or a pipe
    ) as bar:
        task = bar.add_task("records", total=None)
        load_demo(
            svc,
            jobs=jobs,
            months=months,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    err.print(f"demo keys (one per site) are in {demo_keys_path(svc)}")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="On first start, create demo sites, keys and data.")
    ] = False,
    demo_jobs: Annotated[int, typer.Option(help="Jobs the demo data holds.")] = 60_000,
) -> None:
    """Run the API server on the local warehouse and control store under TALLY_HOME."""
    svc = services()
    if demo and needs_demo(svc):
        _load_with_progress(svc, demo_jobs, months=6)
    elif demo:
        err.print(f"demo data already loaded; keys are in {demo_keys_path(svc)}")
    err.print(f"Tally on http://{host}:{port}/v1/docs  (home: {svc.settings.resolved_home})")
    uvicorn.run(create_app(svc.settings), host=host, port=port, log_level="info", access_log=False)


def demo(
    jobs: Annotated[int, typer.Option(help="Jobs the demo data holds.")] = 60_000,
    months: Annotated[int, typer.Option(help="Months of history.")] = 6,
) -> None:
    """Create demo sites, keys and data (once: refuses when sites exist)."""
    svc = services()
    if not needs_demo(svc):
        fail(f"TALLY_HOME {svc.settings.resolved_home} has sites already; use an empty home for the demo")
    _load_with_progress(svc, jobs, months)


def openapi(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the OpenAPI document of the HTTP API."""
    text = orjson.dumps(create_app().openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if output is None:
        typer.echo(text.decode(), nl=False)
    else:
        output.write_bytes(text)
