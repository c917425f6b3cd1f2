// The explorer's state, and its one home: the URL. Decoding checks every name against the
// catalog, so a hand-edited or stale link opens the nearest valid view and says what it dropped.
import { KINDS, MAX_LIMIT, groupable, isTime, kindInfo } from "./catalog";
import { type Range, isDay, isPreset, resolve } from "./timerange";

export const CHARTS = { bar: "Stacked bars", line: "Lines", pie: "Pie", treemap: "Treemap" } as const;
export type Chart = keyof typeof CHARTS;

export interface ExplorerState {
  kind: string;
  range: Range;
  rows: string[]; // dimensions down the table (a time dimension gives bars over time)
  cols: string[]; // dimensions across the table (the chart's series)
  metrics: string[];
  filters: Record<string, string[]>;
  sort: string | null; // "name:asc" | "name:desc", a metric or dimension of the view
  top: number | null; // top-N of the non-time rows, the rest summed by the server as "other"
  chart: Chart;
  page: number; // 1-based page of the table
}

export const DEFAULT_KIND = "jobs";

export function defaultState(kind: string = DEFAULT_KIND): ExplorerState {
  const info = kindInfo(kind);
  return {
    kind,
    range: { preset: "last-6-months" },
    rows: info.time_dimensions.includes("month") ? ["month"] : [],
    cols: info.dimensions.slice(0, 1),
    metrics: info.default_metrics.slice(0, 1),
    filters: {},
    sort: null,
    top: null,
    chart: "bar",
    page: 1,
  };
}

function list(value: string | null): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export interface Decoded {
  state: ExplorerState;
  dropped: string[]; // what the URL held that no view of this kind can show, in words
}

/** The state a URL's query string describes (unknown names dropped, and said). */
export function decode(search: string | URLSearchParams): Decoded {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  const dropped: string[] = [];
  const askedKind = params.get("kind");
  let kind = DEFAULT_KIND;
  if (askedKind !== null) {
    if (askedKind in KINDS) kind = askedKind;
    else dropped.push(`report kind "${askedKind}"`);
  }
  const info = kindInfo(kind);
  const state = defaultState(kind);
  const allowed = groupable(kind);

  const preset = params.get("range");
  const from = params.get("from");
  const to = params.get("to");
  if (from !== null || to !== null) {
    if (from !== null && to !== null && isDay(from) && isDay(to) && from < to) state.range = { from, to };
    else dropped.push(`time range ${from ?? "?"} to ${to ?? "?"}`);
  } else if (preset !== null) {
    if (isPreset(preset)) state.range = { preset };
    else dropped.push(`time range "${preset}"`);
  }

  const seen = new Set<string>();
  let timeSeen = false;
  const dims = (names: string[]): string[] =>
    names.filter((name) => {
      if (!allowed.includes(name)) {
        dropped.push(`dimension "${name}"`);
        return false;
      }
      if (seen.has(name)) return false;
      if (isTime(name)) {
        if (timeSeen) {
          dropped.push(`a second time dimension "${name}"`);
          return false;
        }
        timeSeen = true;
      }
      seen.add(name);
      return true;
    });
  if (params.has("rows")) state.rows = dims(list(params.get("rows")));
  else dims(state.rows);
  if (params.has("cols")) state.cols = dims(list(params.get("cols")));
  else state.cols = dims(state.cols);

  if (params.has("metrics")) {
    const metrics = [...new Set(list(params.get("metrics")))];
    state.metrics = metrics.filter((m) => {
      if (m in info.metrics) return true;
      dropped.push(`metric "${m}"`);
      return false;
    });
    if (state.metrics.length === 0) state.metrics = info.default_metrics.slice(0, 1);
  }

  for (const [name, value] of params) {
    if (!name.startsWith("f.")) continue;
    const dim = name.slice(2);
    if (!info.dimensions.includes(dim)) {
      dropped.push(`filter on "${dim}"`);
      continue;
    }
    const values = (state.filters[dim] ??= []);
    if (!values.includes(value)) values.push(value);
  }

  const sort = params.get("sort");
  if (sort !== null) {
    const [name, direction = "desc"] = sort.split(":");
    const known = name !== undefined && (state.metrics.includes(name) || [...state.rows, ...state.cols].includes(name));
    if (known && (direction === "asc" || direction === "desc")) state.sort = `${name}:${direction}`;
    else dropped.push(`sort "${sort}"`);
  }

  const top = params.get("top");
  if (top !== null) {
    const n = Number(top);
    if (Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT && hasNonTimeDimension(state)) state.top = n;
    else dropped.push(`top "${top}"`);
  }
  if (state.sort !== null && state.top !== null && isTime(state.sort.split(":")[0] ?? "")) {
    dropped.push(`sort by time with top-N`);
    state.sort = null;
  }

  const chart = params.get("chart");
  if (chart !== null) {
    if (chart in CHARTS) state.chart = chart as Chart;
    else dropped.push(`chart "${chart}"`);
  }
  const page = Number(params.get("page") ?? "1");
  state.page = Number.isInteger(page) && page >= 1 ? page : 1;
  return { state, dropped };
}

/** The query string of a state: only what differs from nothing, in a stable order. */
export function encode(state: ExplorerState): string {
  const params = new URLSearchParams();
  params.set("kind", state.kind);
  if ("preset" in state.range) params.set("range", state.range.preset);
  else {
    params.set("from", state.range.from);
    params.set("to", state.range.to);
  }
  params.set("rows", state.rows.join(","));
  params.set("cols", state.cols.join(","));
  params.set("metrics", state.metrics.join(","));
  for (const dim of Object.keys(state.filters).sort()) {
    for (const value of state.filters[dim] ?? []) params.append(`f.${dim}`, value);
  }
  if (state.sort !== null) params.set("sort", state.sort);
  if (state.top !== null) params.set("top", String(state.top));
  params.set("chart", state.chart);
  if (state.page > 1) params.set("page", String(state.page));
  return params.toString();
}

export function hasNonTimeDimension(state: ExplorerState): boolean {
  return [...state.rows, ...state.cols].some((d) => !isTime(d));
}

/** The reports API request of a state: GET /v1/reports/{kind}?<this>. */
export function reportQuery(state: ExplorerState, today: Date): URLSearchParams {
  const { from, to } = resolve(state.range, today);
  const params = new URLSearchParams();
  params.set("from", from);
  params.set("to", to);
  const groupBy = [...state.rows, ...state.cols];
  if (groupBy.length > 0) params.set("group_by", groupBy.join(","));
  params.set("metrics", state.metrics.join(","));
  for (const dim of Object.keys(state.filters).sort()) {
    for (const value of state.filters[dim] ?? []) params.append(dim, value);
  }
  if (state.sort !== null) params.set("order_by", state.sort);
  if (state.top !== null && hasNonTimeDimension(state)) params.set("limit", String(state.top));
  return params;
}

/** A new state with the kind changed: names the new kind lacks fall away. */
export function withKind(state: ExplorerState, kind: string): ExplorerState {
  const next = decode(encode({ ...state, kind, page: 1 })).state;
  return next;
}
