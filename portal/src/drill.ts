// From a figure to the records behind it: the view's filters and time range, narrowed by the
// cell's own dimension values (a month narrows the range to that month).
import { OTHER, isTime } from "./catalog";
import type { Cell } from "./pivot";
import { type ExplorerState } from "./state";
import { resolve } from "./timerange";

function addMonths(day: string, months: number): string {
  const [y, m] = day.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1 + months, 1)).toISOString().slice(0, 10);
}

function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** The end (exclusive) of the period a time dimension's value starts. */
export function periodEnd(dimension: string, start: string): string {
  switch (dimension) {
    case "day":
      return addDays(start, 1);
    case "month":
      return addMonths(start, 1);
    case "quarter":
      return addMonths(start, 3);
    default:
      return addMonths(start, 12);
  }
}

/** The query string of /records for one cell, or null when no listing can say what it holds
 * ("other" is everything beyond the top N; a missing value cannot be asked for by equality). */
export function cellRecords(
  state: ExplorerState,
  dims: string[],
  values: Cell[],
  today: Date,
): URLSearchParams | null {
  let { from, to } = resolve(state.range, today);
  const params = new URLSearchParams({ kind: state.kind });
  const filters: [string, string][] = [];
  for (const [dim, values_] of Object.entries(state.filters)) for (const v of values_) filters.push([dim, v]);
  for (let i = 0; i < dims.length; i++) {
    const dim = dims[i]!;
    const value = values[i];
    if (value === null || value === undefined || value === OTHER) return null;
    const text = String(value);
    if (isTime(dim)) {
      const end = periodEnd(dim, text);
      if (text > from) from = text;
      if (end < to) to = end;
    } else {
      // The cell's value replaces the view's filters on the same dimension.
      for (let j = filters.length - 1; j >= 0; j--) if (filters[j]![0] === dim) filters.splice(j, 1);
      filters.push([dim, text]);
    }
  }
  if (to <= from) return null;
  params.set("from", from);
  params.set("to", to);
  for (const [dim, v] of filters) params.append(`f.${dim}`, v);
  return params;
}

/** /records?... to the listing API's query: filters as dimension=value, the rest as they are. */
export function listingQuery(search: URLSearchParams, limit: number): URLSearchParams {
  const out = new URLSearchParams();
  for (const [name, value] of search) {
    if (name.startsWith("f.")) out.append(name.slice(2), value);
    else if (name === "from" || name === "to" || name === "sort" || name === "cursor") out.set(name, value);
  }
  out.set("limit", String(limit));
  return out;
}
