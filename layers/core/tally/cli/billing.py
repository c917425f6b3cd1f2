"""`tally billing`: import commercial-cloud billing exports into the `billing` table, list what it holds.

The same code path as POST /v1/billing and the S3 landing Lambda (tally.services.billing), with no
size limit: a file is read from disk in blocks.

Ownership: an import is attributed to `--site S` (which must exist) or, without it, to the
operator (`@operator`); it may store only accounts that owner has, or that nobody has yet (which
it then owns). To restate a site's account, import it with `--site <that site>`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tally.cli.common import err, fail, out, print_json, services
from tally.domain.control import OPERATOR_OWNER

if TYPE_CHECKING:
    from tally.services.billing import BillingStoreResult

app = typer.Typer(help="Import billing exports (AWS CUR, Azure, GCP, FOCUS).", no_args_is_help=True)


def _defaults(
    currency: str | None, provider_name: str | None, account: str | None, extra: list[str]
) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for item in extra:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            fail(f"--default takes COLUMN=VALUE, got {item!r}")
        defaults[column.strip()] = value
    if currency:
        defaults["billing_currency"] = currency.upper()
    if provider_name:
        defaults["provider_name"] = provider_name
    if account:
        defaults["billing_account_id"] = account
    return defaults


def _summary(result: BillingStoreResult) -> dict[str, object]:
    return {
        "delivery_id": result.delivery_id,
        "source_files": result.source_files,
        "source_format": result.source_format,
        "provider": result.provider,
        "billing_periods": result.billing_periods,
        "source_rows": result.source_rows,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "partitions": [
            {
                "provider": p.provider,
                "billing_account_id": p.billing_account_id,
                "billing_period": p.billing_period,
                "rows": p.rows,
                "action": p.action,
                "replaced_deliveries": p.replaced_deliveries,
            }
            for p in result.partitions
        ],
        "quarantine_key": result.quarantine_key,
        "warnings": result.warnings,
        "errors": result.errors(limit=20),
    }


@app.command("import")
def import_files(
    files: Annotated[list[Path], typer.Argument(help="Export files: CSV, CSV.gz or Parquet.")],
    currency: Annotated[
        str | None, typer.Option("--currency", help="BillingCurrency for files that do not state it.")
    ] = None,
    provider_name: Annotated[
        str | None, typer.Option("--provider-name", help="ProviderName for files that do not state it.")
    ] = None,
    billing_account_id: Annotated[
        str | None, typer.Option("--billing-account-id", help="BillingAccountId for files without one.")
    ] = None,
    default: Annotated[
        list[str] | None,
        typer.Option("--default", help="COLUMN=VALUE for any other billing string column (repeatable)."),
    ] = None,
    one_delivery: Annotated[
        bool,
        typer.Option(
            "--one-delivery",
            help="Store all FILES as one delivery (the parts of one export): together they replace "
            "each period they hold. Without it, each file is its own delivery.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Re-apply a file even where a later delivery superseded it.")
    ] = False,
    site: Annotated[
        str | None,
        typer.Option(
            "--site",
            help="Import on behalf of this site: it owns the accounts first stored, and may restate "
            f"only its own. Without it, the import is the operator's ({OPERATOR_OWNER}).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary per delivery.")] = False,
) -> None:
    """Import billing exports; a re-delivered billing period replaces the one stored before."""
    from tally.billing import BillingImportError  # the importers load only for this command
    from tally.services.billing import BillingStoreError

    defaults = _defaults(currency, provider_name, billing_account_id, list(default or []))
    svc = services()
    if site is not None and svc.control.get_site(site) is None:
        fail(f"no site named {site!r}: create it first with `tally sites add {site}`")
    service = svc.billing
    deliveries = [files] if one_delivery else [[f] for f in files]
    results: list[BillingStoreResult] = []
    failures: list[tuple[str, str]] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("importing", total=len(files))
        for delivery in deliveries:
            names = ", ".join(p.name for p in delivery)
            progress.update(task, description=f"importing {names}")
            try:
                result = service.import_files(
                    [(p, p.name) for p in delivery],
                    defaults=defaults,
                    origin="cli",
                    site=site,
                    force=force,
                    on_part=lambda _name: progress.advance(task),
                )
            except (BillingImportError, BillingStoreError) as exc:
                failures.append((names, str(exc)))
                progress.advance(task, len(delivery))
                continue
            results.append(result)
    if as_json:
        print_json(
            {
                "deliveries": [_summary(r) for r in results],
                "failures": [{"files": f, "error": e} for f, e in failures],
            }
        )
    else:
        _print_table(results)
    for names, message in failures:
        text = message if message.startswith(names) else f"{names}: {message}"
        err.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
    if failures:
        raise typer.Exit(1)


def _print_table(results: list[BillingStoreResult]) -> None:
    table = Table("file", "format", "provider", "periods", "accepted", "rejected", "stored as", "delivery")
    for r in results:
        actions: list[str] = sorted({p.action for p in r.partitions}) or ["nothing stored"]
        table.add_row(
            ", ".join(r.source_files),
            r.source_format,
            r.provider,
            ", ".join(r.billing_periods),
            str(r.accepted),
            str(r.rejected),
            ", ".join(actions),
            r.delivery_id[:12],
        )
    out.print(table)
    replaced = [p for r in results for p in r.periods_replaced]
    for p in replaced:
        out.print(
            f"replaced {p.provider} account {p.billing_account_id} period {p.billing_period} "
            f"(was delivery {', '.join(d[:12] for d in p.replaced_deliveries)})",
            highlight=False,
        )
    for r in results:
        if r.quarantine_key:
            rules = Counter(v.rule_id for reject in r.rejects for v in reject.violations)
            broken = ", ".join(f"{rule} x{n}" for rule, n in rules.most_common(5))
            out.print(
                f"{r.rejected} rejected row(s) of {', '.join(r.source_files)} ({broken}) "
                f"kept in {r.quarantine_key}",
                highlight=False,
            )
        for warning in r.warnings:
            out.print(f"[yellow]warning:[/] {warning}", highlight=False)


@app.command("list")
def list_partitions(
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifests as JSON.")] = False,
) -> None:
    """What the billing table holds: one line per provider, billing account and period."""
    svc = services()
    owners = {(a.provider, a.billing_account_id): a.owner for a in svc.control.list_billing_accounts()}
    manifests = sorted(
        svc.billing.manifests(), key=lambda m: (m.provider, m.billing_period, m.billing_account_id)
    )
    if as_json:
        print_json(
            [{**m.as_dict(), "owner": owners.get((m.provider, m.billing_account_id))} for m in manifests]
        )
        return
    table = Table(
        "provider", "account", "owner", "period", "rows", "billed cost", "delivery", "files", "stored at"
    )
    for m in manifests:
        table.add_row(
            m.provider,
            m.billing_account_id,
            str(owners.get((m.provider, m.billing_account_id)) or "-"),
            m.billing_period,
            str(m.rows),
            ", ".join(f"{v} {c}" for c, v in sorted(m.billed_cost.items())),
            m.delivery_id[:12],
            ", ".join(m.source_files),
            m.stored_at,
        )
    out.print(table)
