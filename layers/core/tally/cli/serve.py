"""`tally serve`, `tally demo` and `tally openapi`.

The server, the demo and the API import on use: every `tally` command loads this module, and
`tally query` should not pay for FastAPI, uvicorn and the billing importers.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tally.cli.common import err, fail, services
from tally.serving.listen import ListenError, bind

if TYPE_CHECKING:
    from tally.services.container import Services
    from tally.settings import Settings


def _load_with_progress(svc: Services, jobs: int, months: int) -> None:
    from tally.demo.loader import demo_keys_path, load_demo

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
    err.print(
        f"demo people (one per role, with passwords) are in {svc.settings.resolved_home / 'demo-people.json'}"
    )


def _url_host(host: str) -> str:
    """How a client on this machine writes the address: wildcards as loopback, IPv6 in brackets."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _tls_files(
    host: str, tls_cert: Path | None, tls_key: Path | None, self_signed: bool, settings: Settings
) -> tuple[Path, Path, Path | None] | None:
    """(certificate, key, CA the agents trust or None) for HTTPS, or None for plain HTTP."""
    if self_signed and (tls_cert or tls_key):
        fail("tally serve: --self-signed makes its own certificate; leave out --tls-cert/--tls-key")
    if self_signed:
        from tally.serving.certificates import ensure_self_signed, server_hosts  # only this needs it

        made = ensure_self_signed(settings.resolved_home / "tls", server_hosts(host))
        if made.created:
            err.print(f"made a local CA and server certificate in {made.ca.parent}")
        return made.cert, made.key, made.ca
    if tls_cert is None and tls_key is None:
        return None
    if tls_cert is None or tls_key is None:
        fail("tally serve: HTTPS needs both --tls-cert and --tls-key")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(tls_cert, tls_key)
    except (OSError, ssl.SSLError) as exc:
        fail(f"tally serve: cannot use {tls_cert} with {tls_key}: {exc}")
    return tls_cert, tls_key, None


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="On first start, create demo sites, keys and data.")
    ] = False,
    demo_jobs: Annotated[int, typer.Option(help="Jobs the demo data holds.")] = 60_000,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this PEM certificate (chain).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The PEM private key of --tls-cert.")] = None,
    self_signed: Annotated[
        bool,
        typer.Option(
            "--self-signed",
            help="Serve HTTPS with a local CA and certificate kept under TALLY_HOME/tls (made once).",
        ),
    ] = False,
) -> None:
    """Run the API server on the local warehouse and control store under TALLY_HOME."""
    try:
        sock = bind(host, port)  # first: a busy port is one line, before any loading
    except ListenError as exc:
        err.print(str(exc), highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(1) from None
    import uvicorn

    from tally.api.app import create_app
    from tally.demo.loader import demo_keys_path, needs_demo
    from tally.serving.header_deadline import with_header_timeout
    from tally.serving.portal import with_portal
    from tally.serving.portal_build import dist_of

    svc = services()
    settings = svc.settings
    tls = _tls_files(host, tls_cert, tls_key, self_signed, settings)
    if demo and needs_demo(svc):
        _load_with_progress(svc, demo_jobs, months=6)
    elif demo:
        err.print(f"demo data already loaded; keys are in {demo_keys_path(svc)}")
    base = f"{'https' if tls else 'http'}://{_url_host(host)}:{port}"
    err.print(f"Tally on {base}/v1/docs  (home: {settings.resolved_home})", highlight=False, soft_wrap=True)
    portal = dist_of()
    if (portal / "index.html").is_file():
        err.print(f"portal on {base}/", highlight=False, soft_wrap=True)
    else:
        err.print("portal not built: `make run` builds it (the API is served anyway)", highlight=False)
    if tls is not None and tls[2] is not None:
        err.print(f"agents: --server {base} --ca-bundle {tls[2]}", highlight=False, soft_wrap=True)
    config = uvicorn.Config(
        with_portal(create_app(services=svc), portal),
        log_level="info",
        access_log=False,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        http=with_header_timeout(settings.header_timeout_seconds),
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        limit_concurrency=settings.max_connections,
    )
    scheduler = None
    if settings.alerts.schedule_seconds > 0:
        from tally.alerts.scheduler import AlertScheduler
        from tally.services.scheduled import run_scheduled

        scheduler = AlertScheduler(lambda: run_scheduled(svc), settings.alerts.schedule_seconds)
        scheduler.start()
        err.print(f"alerts: evaluated every {settings.alerts.schedule_seconds:g} s", highlight=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if scheduler is not None:
            scheduler.stop()


def demo(
    jobs: Annotated[int, typer.Option(help="Jobs the demo data holds.")] = 60_000,
    months: Annotated[int, typer.Option(help="Months of history.")] = 6,
) -> None:
    """Create demo sites, keys and data (once: refuses when sites exist)."""
    from tally.demo.loader import needs_demo

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
    from tally.api.app import create_app

    text = orjson.dumps(create_app().openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if output is None:
        typer.echo(text.decode(), nl=False)
    else:
        output.write_bytes(text)
