"""One code path for every billing file: read in batches, detect, map, type, check, split accepted/rejects."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from itertools import chain

import pyarrow as pa
import pyarrow.compute as pc

from tally.billing.aws_cur import map_aws
from tally.billing.azure import map_azure
from tally.billing.detect import Detected, detect
from tally.billing.focus import map_focus, provider_slug
from tally.billing.focus_schema import BILLING_SCHEMA, MONEY_COLUMNS, MONEY_SCALE, QUANTITY_COLUMNS
from tally.billing.frame import FileContext, Frame, Mapped
from tally.billing.gcp import map_gcp
from tally.billing.model import BillingImport, BillingImportError, Reject, Violation
from tally.billing.readers import ROW_COLUMN, EncodingMismatchError, Source, SourceInfo, read_batches, sniff
from tally.billing.rules import RULES, check
from tally.billing.values import as_mask, join_present, map_unique

Mapper = Callable[[Frame, FileContext], Mapped]
MAPPERS: dict[str, Mapper] = {"focus": map_focus, "aws": map_aws, "azure": map_azure, "gcp": map_gcp}
_FALLBACK_ENCODINGS = ("cp1252", "latin-1")
#: Columns compared to spot exact duplicate line items (reported as a warning, both rows kept).
_DUPLICATE_KEY = (
    "provider",
    "billing_account_id",
    "sub_account_id",
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "charge_description",
    "resource_id",
    "sku_id",
    "sku_price_id",
    "x_usage_type",
    "x_operation",
    "x_line_item_id",
    "billed_cost",
    "pricing_quantity",
    "source_subrow",
)


def import_billing(
    source: Source,
    filename: str | None = None,
    *,
    defaults: Mapping[str, str] | None = None,
) -> BillingImport:
    """Import one billing export (path, or bytes with `filename`) into `billing` rows and rejects.

    `defaults` fill columns the file lacks or leaves null, e.g. {"billing_currency": "USD"} for an
    export known to be in dollars; nothing is assumed without it. Raises BillingImportError when
    the file as a whole is unusable (empty, truncated compression, unknown format).
    """
    info = sniff(source, filename)
    fill = dict(defaults or {})
    for encoding in ("utf-8", *_FALLBACK_ENCODINGS):
        warnings = [] if encoding == "utf-8" else [f"file is not valid UTF-8; decoded as {encoding}"]
        try:
            result = _run(source, info, encoding, fill, warnings, None)
        except EncodingMismatchError:
            continue
        short = _short_header_width(info, result)
        if short is None:
            return result
        header = list(info.header)
        dropped = header[short:]
        warnings = [
            *warnings,
            f"every record has {short} fields but the header has {len(header)}; "
            f"the trailing header column(s) {dropped} are treated as absent",
        ]
        return _run(source, info, encoding, fill, warnings, header[:short])
    raise BillingImportError("encoding", f"{info.name}: text encoding not recognised")


def _short_header_width(info: SourceInfo, result: BillingImport) -> int | None:
    """k when no record matched the header and every record has the same k < header fields."""
    rows = info.invalid_rows
    if result.table.num_rows or not rows or len(rows) != result.source_rows:
        return None
    widths = {r.actual_columns for r in rows}
    width = widths.pop() if len(widths) == 1 else None
    if width is None or not 0 < width < len(info.header):
        return None
    return width


def _run(
    source: Source,
    info: SourceInfo,
    encoding: str,
    defaults: dict[str, str],
    warnings: list[str],
    columns: list[str] | None,
) -> BillingImport:
    batches: Iterator[pa.RecordBatch] = read_batches(source, info, encoding, columns)
    first = next(batches, None)
    if not info.header:
        raise BillingImportError("empty", f"{info.name}: the file has no header")
    detected = detect(info.header)
    context = FileContext(source_file=info.name, source_format=detected.source_format)
    mapper = MAPPERS[detected.family]
    tables: list[pa.Table] = []
    rejects: list[Reject] = []
    source_rows = 0
    seen_warnings: set[str] = set(warnings)
    for batch in chain([first] if first is not None else [], batches):
        source_rows += batch.num_rows
        table, batch_rejects, notes = _process(batch, mapper, context, detected, defaults)
        tables.append(table)
        rejects.extend(batch_rejects)
        for note in notes:
            if note not in seen_warnings:
                seen_warnings.add(note)
                warnings.append(note)
    rejects.extend(_invalid_row_rejects(info))
    source_rows += len(info.invalid_rows)
    rejects.sort(key=lambda r: r.source_row)
    table = pa.concat_tables(tables) if tables else BILLING_SCHEMA.empty_table()
    if source_rows == 0:
        warnings.append("the file has a header but no data rows")
    warnings.extend(_duplicate_warnings(table))
    return _result(table, rejects, detected, info, source_rows, warnings)


def _process(
    batch: pa.RecordBatch, mapper: Mapper, context: FileContext, detected: Detected, defaults: dict[str, str]
) -> tuple[pa.Table, list[Reject], list[str]]:
    frame = Frame(batch)
    mapped = mapper(frame, context)
    n = frame.num_rows if mapped.row_index is None else len(mapped.row_index)
    checked = check(mapped.columns, n, defaults)
    if mapped.repair is not None:
        mapped.repair(checked)
    violations = [(r, d, as_mask(m)) for r, d, m in (*mapped.violations, *checked.violations)]
    violations = [v for v in violations if pc.any(v[2]).as_py()]
    quirks = [(as_mask(m), note) for m, note in (*mapped.quirks, *checked.quirks)]
    quirks = [q for q in quirks if pc.any(q[0]).as_py()]

    row_index = mapped.row_index if mapped.row_index is not None else pa.array(range(n), pa.int64())
    rejects: list[Reject] = []
    keep = pa.repeat(pa.scalar(True), n)
    if violations:
        bad_out = violations[0][2]
        for _, _, mask in violations[1:]:
            bad_out = pc.or_(bad_out, mask)
        bad_inputs = pc.unique(pc.filter(row_index, bad_out)).to_pylist()
        bad_rows = pa.array(sorted(bad_inputs), pa.int64())
        keep = pc.invert(pc.is_in(row_index, value_set=bad_rows))
        rejects = _rejects(batch, row_index, bad_rows, violations, context.source_file)

    columns = checked.columns
    exact = _exact_amounts(columns, mapped.exact, checked.exact)
    quirks.extend(
        (
            pc.is_valid(text),
            f"{name} has more than {MONEY_SCALE} decimal places: rounded half-even, "
            "exact text in x_exact_amounts",
        )
        for name, text in exact
    )
    columns["x_quirks"] = _quirk_column(quirks, n)
    columns["x_exact_amounts"] = _exact_column(exact, n)
    sub = mapped.subrow if mapped.subrow is not None else pa.repeat(pa.scalar(0, pa.int16()), n)
    start = columns.get("billing_period_start")
    provider = mapped.provider
    name = columns.get("provider_name")
    if mapped.provider_from_name and name is not None:
        provider = pc.fill_null(map_unique(name, provider_slug), "unknown")
    provenance: dict[str, pa.Array] = {
        "provider": provider,
        "source_file": pa.repeat(pa.scalar(context.source_file), n),
        "source_row": pc.take(frame.source_rows, row_index),
        "source_subrow": sub,
        "source_format": pa.repeat(pa.scalar(detected.source_format), n),
        "billing_period": (pa.nulls(n, pa.string()) if start is None else pc.strftime(start, format="%Y-%m")),
    }
    arrays: list[pa.Array] = []
    for field in BILLING_SCHEMA:
        value = provenance.get(field.name, columns.get(field.name))
        if value is None:
            arrays.append(pa.nulls(n, field.type))
        else:
            arrays.append(value if value.type == field.type else pc.cast(value, field.type))
    table = pa.Table.from_arrays(arrays, schema=BILLING_SCHEMA)
    if violations:
        table = table.filter(keep)
    return table, rejects, mapped.warnings


def _exact_amounts(columns: dict[str, pa.Array], *sources: dict[str, pa.Array]) -> list[tuple[str, pa.Array]]:
    """(column, exact text) for decimal columns with a rounded value, in schema order."""
    out: list[tuple[str, pa.Array]] = []
    for name in (*MONEY_COLUMNS, *QUANTITY_COLUMNS):
        texts = [src[name] for src in sources if name in src]
        value = columns.get(name)
        if not texts or value is None:
            continue
        text = texts[0] if len(texts) == 1 else pc.coalesce(*texts)
        text = pc.if_else(pc.is_valid(value), text, pa.scalar(None, pa.string()))
        if pc.any(pc.is_valid(text)).as_py():
            out.append((name, text))
    return out


def _exact_column(exact: list[tuple[str, pa.Array]], n: int) -> pa.Array:
    """A JSON object per row ({"billed_cost": "0.0007458096045417008"}), null when all are exact."""
    if not exact:
        return pa.nulls(n, pa.string())
    # The texts matched the number pattern in to_decimal (or were formatted by Python): no escaping.
    parts = [
        pc.binary_join_element_wise(pa.scalar(f'"{name}":"'), text, pa.scalar('"'), "")
        for name, text in exact
    ]
    body = join_present(parts, ",")
    return pc.binary_join_element_wise(pa.scalar("{"), body, pa.scalar("}"), "")


def _quirk_column(quirks: list[tuple[pa.Array, str]], n: int) -> pa.Array:
    if not quirks:
        return pa.nulls(n, pa.string())
    parts = [pc.if_else(mask, pa.scalar(note), pa.scalar(None, pa.string())) for mask, note in quirks]
    return join_present(parts, "; ")


def _rejects(
    batch: pa.RecordBatch,
    row_index: pa.Array,
    bad_rows: pa.Array,
    violations: list[tuple[str, str, pa.Array]],
    source_file: str,
) -> list[Reject]:
    per_row: dict[int, list[Violation]] = {i: [] for i in bad_rows.to_pylist()}
    for rule_id, detail, mask in violations:
        hits = pc.unique(pc.filter(row_index, mask)).to_pylist()
        violation = Violation(rule_id, f"{RULES[rule_id]} ({detail})")
        for i in hits:
            if violation not in per_row[i]:
                per_row[i].append(violation)
    raw_rows = batch.take(bad_rows).to_pylist()
    numbers = pc.take(batch.column(ROW_COLUMN), bad_rows).to_pylist()
    out: list[Reject] = []
    for i, raw, number in zip(bad_rows.to_pylist(), raw_rows, numbers, strict=True):
        raw.pop(ROW_COLUMN, None)
        out.append(Reject(source_file, int(number), tuple(per_row[i]), raw))
    return out


def _invalid_row_rejects(info: SourceInfo) -> list[Reject]:
    out: list[Reject] = []
    for row in info.invalid_rows:
        try:
            fields = next(csv.reader(io.StringIO(row.text)), [])
        except csv.Error:
            fields = [row.text]
        raw: dict[str, str | None] = dict(zip(info.header, fields, strict=False))
        if len(fields) > len(info.header):
            raw["\x00extra"] = ",".join(fields[len(info.header) :])
        detail = f"{row.actual_columns} fields, header has {row.expected_columns}"
        out.append(
            Reject(
                info.name,
                row.source_row,
                (Violation("Tally-ROW-001", f"{RULES['Tally-ROW-001']} ({detail})"),),
                raw,
            )
        )
    return out


def _duplicate_warnings(table: pa.Table) -> list[str]:
    if table.num_rows < 2:
        return []
    # A key column whose values are all present and distinct (a provider line id) rules out
    # duplicates without grouping a million rows by sixteen columns.
    for name in ("x_line_item_id", "resource_id", "charge_period_start"):
        column = table[name]
        if column.null_count == 0 and pc.count_distinct(column).as_py() == table.num_rows:
            return []
    grouped = table.select(list(_DUPLICATE_KEY)).group_by(list(_DUPLICATE_KEY), use_threads=False)
    counts = grouped.aggregate([([], "count_all")])
    duplicates = pc.filter(counts["count_all"], pc.greater(counts["count_all"], 1))
    if len(duplicates) == 0:
        return []
    extra = int(pc.sum(duplicates).as_py()) - len(duplicates)
    return [f"{extra} row(s) duplicate an earlier line item exactly; all were kept (the bill counts them)"]


def _result(
    table: pa.Table,
    rejects: list[Reject],
    detected: Detected,
    info: SourceInfo,
    source_rows: int,
    warnings: list[str],
) -> BillingImport:
    periods = set(pc.unique(table["billing_period"]).to_pylist()) if table.num_rows else set()
    providers = frozenset(pc.unique(table["provider"]).to_pylist()) if table.num_rows else frozenset()
    partitions: frozenset[tuple[str, str, str]] = frozenset()
    if table.num_rows:
        keys = (
            table.select(["provider", "billing_account_id", "billing_period"])
            .group_by(["provider", "billing_account_id", "billing_period"])
            .aggregate([])
        )
        partitions = frozenset(
            (p, a, b)
            for p, a, b in zip(
                keys["provider"].to_pylist(),
                keys["billing_account_id"].to_pylist(),
                keys["billing_period"].to_pylist(),
                strict=True,
            )
        )
    if len(providers) == 1:
        provider = next(iter(providers))
    elif providers:
        provider = "mixed"
    else:
        provider = {"aws": "aws", "azure": "azure", "gcp": "gcp"}.get(detected.family, "unknown")
    return BillingImport(
        table=table,
        rejects=rejects,
        source_format=detected.source_format,
        provider=provider,
        billing_periods={str(p) for p in periods},
        source_file=info.name,
        source_rows=source_rows,
        providers=providers,
        partitions=partitions,
        warnings=warnings,
    )
