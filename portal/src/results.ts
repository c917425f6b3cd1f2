// A report on the page: fetched from the reports API, drawn as a chart and a paged table.
import { getJson, request } from "./api";
import { type Drawn, chartOption, draw, pngUrl, svgText } from "./chart";
import { KINDS, label } from "./catalog";
import { dataUrlBlob, download, errorBox, formatNumber, h } from "./dom";
import { type Pivot, type PivotColumn, type PivotRow, type Report, columnTitle, page, pivot, toCsv } from "./pivot";
import { type ExplorerState, reportQuery } from "./state";

export const PAGE_SIZE = 100;

let firstChartMarked = false;

/** The report's metrics as the server answered them (it may add one, e.g. unnormalised hours). */
export function metricsOf(report: Report): string[] {
  return report.columns.map((c) => c.name).filter((n) => !report.group_by.includes(n));
}

export function reportUrl(state: ExplorerState, today: Date, format?: "csv" | "xlsx"): string {
  const q = reportQuery(state, today);
  if (format) q.set("format", format);
  return `/v1/reports/${encodeURIComponent(state.kind)}?${q.toString()}`;
}

export interface Shown {
  report: Report;
  pivot: Pivot;
  drawn: Drawn | null;
}

export async function fetchReport(state: ExplorerState, today: Date): Promise<Report> {
  return getJson<Report>(reportUrl(state, today));
}

/** The records page of a cell (row values, then the column's), or null when it has none. */
export type Drill = (row: PivotRow, column: PivotColumn) => string | null;

function table(p: Pivot, kind: string, pageNumber: number, onPage: ((n: number) => void) | null, size: number, drill: Drill | null): HTMLElement {
  const types = KINDS[kind]?.metrics ?? {};
  const slice = page(p.rows, pageNumber, size);
  const head = h(
    "tr",
    {},
    p.rowDims.map((d) => h("th", { scope: "col" }, label(d))),
    p.columns.map((c) => h("th", { scope: "col", class: "num" }, columnTitle(c, p.colDims, p.metrics.length))),
  );
  const body = slice.items.map((r) =>
    h(
      "tr",
      {},
      r.labels.map((l) => h("th", { scope: "row" }, l)),
      r.cells.map((v, i) => {
        const column = p.columns[i]!;
        const shown = formatNumber(v, types[column.metric]?.type);
        const href = v === null || drill === null ? null : drill(r, column);
        const content = href ? h("a", { href, "data-nav": true, class: "drill", "aria-label": `${shown}: the records behind it` }, shown) : shown;
        return h("td", { class: "num", "data-value": v === null ? "" : String(v) }, content);
      }),
    ),
  );
  const wrap = h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Report table" }, h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
  if (p.rows.length === 0) return h("p", { class: "empty" }, "No usage matches this view.");
  if (slice.pages <= 1 || onPage === null) return wrap;
  const nav = h(
    "nav",
    { class: "pager", "aria-label": "Table pages" },
    h("button", { type: "button", disabled: slice.page <= 1, onclick: () => onPage(slice.page - 1) }, "Previous"),
    h("span", { "aria-live": "polite" }, `Page ${slice.page} of ${slice.pages} (${p.rows.length.toLocaleString("en")} rows)`),
    h("button", { type: "button", disabled: slice.page >= slice.pages, onclick: () => onPage(slice.page + 1) }, "Next"),
  );
  return h("div", {}, wrap, nav);
}

export interface RenderOptions {
  compact: boolean; // a home page panel: the first rows only, no paging, no export
  onPage: ((n: number) => void) | null;
  drill?: Drill | null;
}

/** Draw `report` into `into` (cleared first); returns what is shown, for export. */
export function render(into: HTMLElement, state: ExplorerState, report: Report, options: RenderOptions): Shown {
  const metrics = metricsOf(report);
  const p = pivot(report, state.rows, state.cols, metrics);
  into.replaceChildren();
  const chartEl = h("div", { class: "chart", role: "img", "aria-label": `Chart of ${label(metrics[0] ?? "")}` });
  let drawn: Drawn | null = null;
  if (p.rows.length > 0 && metrics[0]) {
    const { option, truncated } = chartOption(p, state.chart, metrics[0]);
    into.append(chartEl);
    if (truncated) into.append(h("p", { class: "note" }, `The chart shows the first 200 of ${p.rows.length.toLocaleString("en")} rows; use top-N or filters to narrow it.`));
    drawn = draw(chartEl, option);
    chartEl.dataset.state = "ready";
    if (!firstChartMarked) {
      firstChartMarked = true;
      performance.mark("tally:first-chart");
    }
  }
  const size = options.compact ? 10 : PAGE_SIZE;
  into.append(table(p, state.kind, options.compact ? 1 : state.page, options.onPage, size, options.drill ?? null));
  if (options.compact && p.rows.length > size) into.append(h("p", { class: "note" }, `First ${size} of ${p.rows.length} rows.`));
  return { report, pivot: p, drawn };
}

export function exportBar(getShown: () => Shown | null, state: () => ExplorerState, today: Date): HTMLElement {
  const status = h("span", { class: "export-status", "aria-live": "polite" });
  const run = async (what: string, work: (shown: Shown) => Promise<void> | void): Promise<void> => {
    const shown = getShown();
    if (!shown) {
      status.textContent = "Nothing to export yet.";
      return;
    }
    try {
      await work(shown);
      status.textContent = `${what} ready.`;
    } catch (error) {
      status.textContent = `${what} failed: ${String(error instanceof Error ? error.message : error)}`;
    }
  };
  const base = (): string => `tally-${state().kind}`;
  return h(
    "div",
    { class: "export", role: "group", "aria-label": "Export" },
    h("button", { type: "button", "data-export": "csv", onclick: () => run("CSV", (s) => download(`${base()}.csv`, new Blob([toCsv(s.pivot)], { type: "text/csv" }))) }, "CSV"),
    h(
      "button",
      {
        type: "button",
        "data-export": "xlsx",
        onclick: () =>
          run("Excel", async () => {
            const response = await request(reportUrl(state(), today, "xlsx"));
            download(`${base()}.xlsx`, await response.blob());
          }),
      },
      "Excel",
    ),
    h(
      "button",
      {
        type: "button",
        "data-export": "png",
        onclick: () =>
          run("PNG", async (s) => {
            if (!s.drawn) throw new Error("no chart to export");
            download(`${base()}.png`, dataUrlBlob(pngUrl(s.drawn)));
          }),
      },
      "Chart PNG",
    ),
    h(
      "button",
      {
        type: "button",
        "data-export": "svg",
        onclick: () =>
          run("SVG", (s) => {
            if (!s.drawn) throw new Error("no chart to export");
            const el = s.drawn.chart.getDom();
            download(`${base()}.svg`, new Blob([svgText(s.drawn, el.clientWidth || 800, el.clientHeight || 400)], { type: "image/svg+xml" }));
          }),
      },
      "Chart SVG",
    ),
    h(
      "button",
      {
        type: "button",
        "data-export": "link",
        onclick: () =>
          run("Link", async () => {
            await navigator.clipboard?.writeText(location.href);
          }),
      },
      "Copy link",
    ),
    status,
  );
}

export function failure(into: HTMLElement, error: unknown): void {
  into.replaceChildren(errorBox(error instanceof Error ? error.message : String(error)));
}
