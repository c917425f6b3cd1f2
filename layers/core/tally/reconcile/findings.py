"""The findings of a verifier run, for finance: CSV and Excel documents (typed columns, a header,
one sheet per row kind), and the summary on screen (runs of days with one verdict, their cost,
days not judged yet). ("Reports" are the OLAP reports of `tally.reports`.)"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

#: (column, header, kind) in document order; kind decides the cell type and format.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("day", "Day", "date"),
    ("provider", "Provider", "text"),
    ("account", "Account", "text"),
    ("resource_id", "Resource", "text"),
    ("instance_id", "Agent instance", "text"),
    ("verdict", "Verdict", "text"),
    ("billed_hours", "Billed hours", "hours"),
    ("measured_hours", "Measured hours", "hours"),
    ("cpu_hours", "CPU hours", "hours"),
    ("vcpus", "vCPUs", "int"),
    ("cost", "Cost", "money"),
    ("effective_cost", "Effective cost", "money"),
    ("flagged_cost", "Cost needing a look", "money"),
    ("currency", "Currency", "text"),
    ("detail", "Detail", "text"),
    ("billing_period", "Billing period", "text"),
    ("kind", "Row", "text"),
    ("run_id", "Run", "text"),
)


def _csv_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "hours":
        return f"{value:.4f}"
    if kind == "money" and isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != 0 else "0"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def verdict_rows(*tables: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for table in tables:
        rows += table.to_pylist()
    return rows


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for _, header, _ in COLUMNS])
    for row in rows:
        writer.writerow([_csv_value(row.get(name), kind) for name, _, kind in COLUMNS])
    return out.getvalue().encode("utf-8")


def to_xlsx(
    instance_days: list[dict[str, Any]], invoices: list[dict[str, Any]], summary: dict[str, int]
) -> bytes:
    """Sheets: Findings (instance-days not ok), Instance days (all), Invoices, Summary."""
    buffer = io.BytesIO()
    import xlsxwriter  # loaded for the first workbook, not at start

    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1})
    formats = {
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "hours": book.add_format({"num_format": "0.00"}),
        "money": book.add_format({"num_format": "#,##0.00##"}),
        "int": book.add_format({"num_format": "0"}),
    }

    def sheet(name: str, rows: list[dict[str, Any]]) -> None:
        ws = book.add_worksheet(name)
        for col, (_, title, _) in enumerate(COLUMNS):
            ws.write_string(0, col, title, header)
        for r, row in enumerate(rows, start=1):
            for col, (column, _, kind) in enumerate(COLUMNS):
                value = row.get(column)
                if value is None:
                    ws.write_blank(r, col, None)
                    continue
                if kind == "date":
                    ws.write_datetime(r, col, datetime(value.year, value.month, value.day), formats["date"])
                elif kind in ("hours", "money", "int"):
                    ws.write_number(r, col, float(value), formats[kind])
                else:
                    ws.write_string(r, col, str(value))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(rows), 1), len(COLUMNS) - 1)
        ws.set_column(0, 0, 11)
        ws.set_column(1, len(COLUMNS) - 1, 16)

    sheet("Findings", [r for r in instance_days if r["verdict"] != "ok"])
    sheet("Instance days", instance_days)
    sheet("Invoices", invoices)
    ws = book.add_worksheet("Summary")
    ws.write_string(0, 0, "Verdict", header)
    ws.write_string(0, 1, "Instance-days", header)
    for r, (verdict, count) in enumerate(sorted(summary.items()), start=1):
        ws.write_string(r, 0, verdict)
        ws.write_number(r, 1, count, formats["int"])
    book.close()
    return buffer.getvalue()


# -- the finance summary on screen: runs of days, costs, what is not judged yet --------------------


@dataclass(frozen=True)
class FindingRun:
    """Consecutive days of one instance with the same verdict (or one invoice), as one line."""

    kind: str  # instance_day or invoice
    provider: str
    account: str
    resource: str  # the agent's instance id where known, else the bill's resource id
    verdict: str
    first_day: date
    last_day: date
    days: int
    billed_hours: float | None
    measured_hours: float | None
    cost: Decimal  # what the bill charged for these days (0 where nothing was billed)
    flagged_cost: Decimal | None  # invoices: the part of them on instance-days that need a look
    currency: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            **{k: getattr(self, k) for k in self.__dataclass_fields__},
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "cost": format(self.cost, "f"),
            "flagged_cost": None if self.flagged_cost is None else format(self.flagged_cost, "f"),
        }


def _sum_hours(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def finding_runs(rows: list[dict[str, Any]]) -> list[FindingRun]:
    """Rows that need a look (verdict not ok), consecutive days of the same instance and verdict
    merged into one run; invoices one line each. Costs are summed exactly (Decimal)."""
    flagged = [r for r in rows if r["verdict"] != "ok"]

    def key(row: dict[str, Any]) -> tuple[str, str, str, str, str]:
        return (row["kind"], row["provider"], row["account"] or "", row["resource_id"], row["verdict"])

    runs: list[list[dict[str, Any]]] = []
    for row in sorted(flagged, key=lambda r: (*key(r), r["day"])):
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and row["kind"] == "instance_day"
            and key(last) == key(row)
            and row["day"] - last["day"] == timedelta(days=1)
        ):
            runs[-1].append(row)
        else:
            runs.append([row])
    out = []
    for run in runs:
        first = run[0]
        details = list(dict.fromkeys(str(r["detail"] or "") for r in run))
        detail = (
            details[0] if len(details) == 1 else f"on {first['day'].isoformat()}: {details[0]} (and so on)"
        )
        flagged_costs = [r["flagged_cost"] for r in run if r.get("flagged_cost") is not None]
        out.append(
            FindingRun(
                kind=first["kind"],
                provider=first["provider"],
                account=first["account"] or "",
                resource=first["instance_id"] or first["resource_id"],
                verdict=first["verdict"],
                first_day=first["day"],
                last_day=run[-1]["day"],
                days=len(run),
                billed_hours=_sum_hours([r["billed_hours"] for r in run]),
                measured_hours=_sum_hours([r["measured_hours"] for r in run]),
                cost=sum((Decimal(r["cost"]) for r in run if r["cost"] is not None), Decimal(0)),
                flagged_cost=sum(flagged_costs, Decimal(0)) if flagged_costs else None,
                currency=first["currency"],
                detail=detail,
            )
        )
    out.sort(key=lambda r: (r.kind != "instance_day", r.provider, r.resource, r.first_day))
    return out


def unsettled_days(
    period: str, judged_last: date | None, now: datetime, settle_hours: float
) -> UnsettledDays | None:
    """The days of `period` that have begun but are not judged yet (inside the settle time), if any."""
    first = date.fromisoformat(f"{period}-01")
    period_last = date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)
    start = first if judged_last is None or judged_last < first else judged_last + timedelta(days=1)
    today = now.astimezone(UTC).date()
    end = min(period_last, today)
    if start > end:
        return None
    judged_at = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(
        days=1, hours=settle_hours
    )
    return UnsettledDays(start, end, judged_at)


@dataclass(frozen=True)
class UnsettledDays:
    first_day: date
    last_day: date
    judged_from: datetime  # when the first of them is judged (its end plus the settle time)

    def as_dict(self) -> dict[str, str]:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "judged_from": self.judged_from.isoformat().replace("+00:00", "Z"),
        }
