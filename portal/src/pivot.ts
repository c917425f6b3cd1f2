// Lays the server's report rows out as a pivot table. Nothing is summed here: every cell is one
// row of the server's answer (grouped by the row and column dimensions together).
import { OTHER, isTime } from "./catalog";

export type Cell = string | number | boolean | null;
export type ReportRow = Record<string, Cell>;

export interface Report {
  kind: string;
  from: string;
  to: string;
  group_by: string[];
  columns: { name: string; type: string }[];
  rows: ReportRow[];
}

export interface PivotColumn {
  key: string; // the column dimensions' values, joined
  labels: string[]; // one per column dimension
  values: Cell[]; // the server's values behind the labels (null stays null)
  metric: string;
}

export interface PivotRow {
  key: string;
  labels: string[]; // one per row dimension
  values: Cell[];
  cells: (number | null)[]; // in the order of `columns`
}

export interface Pivot {
  rowDims: string[];
  colDims: string[];
  metrics: string[];
  columns: PivotColumn[];
  rows: PivotRow[];
}

const SEP = "\u001f";

export function text(value: Cell | undefined): string {
  if (value === null || value === undefined) return "(none)";
  return String(value);
}

function compareKeys(a: string[], b: string[], timeAt: boolean[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? "";
    const y = b[i] ?? "";
    if (x === y) continue;
    if (x === OTHER) return 1; // the rest comes last
    if (y === OTHER) return -1;
    if (timeAt[i]) return x < y ? -1 : 1;
    return 0; // keep the server's order otherwise
  }
  return 0;
}

/** The pivot of `report`: rows in the server's order (by time where rows hold time), column
 * groups by time then in the server's order, "other" last. */
export function pivot(report: Report, rowDims: string[], colDims: string[], metrics: string[]): Pivot {
  const colKeys = new Map<string, string[]>();
  const rowKeys = new Map<string, string[]>();
  const raw = new Map<string, Cell[]>();
  const values = new Map<string, ReportRow>();
  for (const row of report.rows) {
    const rl = rowDims.map((d) => text(row[d]));
    const cl = colDims.map((d) => text(row[d]));
    const rk = rl.join(SEP);
    const ck = cl.join(SEP);
    if (!rowKeys.has(rk)) rowKeys.set(rk, rl);
    if (!colKeys.has(ck)) colKeys.set(ck, cl);
    if (!raw.has(`r${rk}`)) raw.set(`r${rk}`, rowDims.map((d) => row[d] ?? null));
    if (!raw.has(`c${ck}`)) raw.set(`c${ck}`, colDims.map((d) => row[d] ?? null));
    values.set(rk + SEP + SEP + ck, row);
  }
  const rowTime = rowDims.map(isTime);
  const colTime = colDims.map(isTime);
  const rowOrder = [...rowKeys.entries()]
    .map((e, i) => ({ e, i }))
    .sort((a, b) => compareKeys(a.e[1], b.e[1], rowTime) || a.i - b.i)
    .map(({ e }) => e);
  const colOrder = [...colKeys.entries()]
    .map((e, i) => ({ e, i }))
    .sort((a, b) => compareKeys(a.e[1], b.e[1], colTime) || a.i - b.i)
    .map(({ e }) => e);
  const columns: PivotColumn[] = [];
  for (const [key, labels] of colOrder) {
    for (const metric of metrics) columns.push({ key, labels, values: raw.get(`c${key}`) ?? [], metric });
  }
  const rows: PivotRow[] = rowOrder.map(([key, labels]) => ({
    key,
    labels,
    values: raw.get(`r${key}`) ?? [],
    cells: columns.map((c) => {
      const source = values.get(key + SEP + SEP + c.key);
      const v = source?.[c.metric];
      return typeof v === "number" ? v : null;
    }),
  }));
  return { rowDims, colDims, metrics, columns, rows };
}

/** The header text of a pivot column: its column labels, then the metric. */
export function columnTitle(column: PivotColumn, colDims: string[], metricCount: number): string {
  const parts = colDims.length > 0 ? [...column.labels] : [];
  if (metricCount > 1 || parts.length === 0) parts.push(column.metric);
  return parts.join(" · ");
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** RFC 4180 CSV of the table as shown: a header, the row labels, the server's numbers unrounded. */
export function toCsv(p: Pivot): string {
  const header = [...p.rowDims, ...p.columns.map((c) => columnTitle(c, p.colDims, p.metrics.length))];
  const lines = [header.map(csvField).join(",")];
  for (const row of p.rows) {
    const cells = row.cells.map((v) => (v === null ? "" : String(v)));
    lines.push([...row.labels, ...cells].map(csvField).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/** One page of rows (1-based), and how many pages there are. */
export function page<T>(items: T[], pageNumber: number, size: number): { items: T[]; pages: number; page: number } {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(Math.max(1, pageNumber), pages);
  return { items: items.slice((current - 1) * size, current * size), pages, page: current };
}
