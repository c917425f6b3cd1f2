// The records behind a figure (GET /v1/records/{kind}), paged by the server's cursor, and one
// record in full (GET /v1/records/{kind}/{record_id}).
import { getJson } from "../api";
import { label } from "../catalog";
import { listingQuery } from "../drill";
import { errorBox, formatNumber, h } from "../dom";

export const RECORDS_PAGE = 50;

export interface RecordPage {
  items: Record<string, unknown>[];
  next_cursor: string | null;
}

/** The columns a listing shows first, by kind; the detail has every field. */
const COLUMNS: Record<string, string[]> = {
  jobs: ["end_time", "site", "resource", "local_job_id", "user", "project", "vo", "state", "cores", "wall_seconds", "cpu_efficiency", "normalised_core_hours"],
  vms: ["interval_start", "site", "provider", "account", "instance_id", "instance_type", "project", "vcpus", "uptime_seconds", "state"],
  storage: ["end_time", "site", "storage_system", "storage_share", "path", "owner", "vo", "used_bytes"],
  accelerators: ["interval_start", "site", "resource", "model", "associated_id", "vo", "project", "count", "utilisation_percent"],
};

function show(value: unknown): string {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString("en") : formatNumber(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) return value.map(show).join(", ");
  if (typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${label(k)}: ${show(v)}`)
      .join(" · ");
  }
  return String(value);
}

/** A table cell: times to the minute (the detail has the seconds). */
function brief(value: unknown): string {
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) return `${value.slice(0, 10)} ${value.slice(11, 16)}`;
  return show(value);
}

function bytes(value: unknown): string {
  if (typeof value !== "number") return show(value);
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = value;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toLocaleString("en", { maximumFractionDigits: 1 })} ${units[u]} (${value.toLocaleString("en")} bytes)`;
}

/** A table of records with a link to each one's detail. */
export function recordsTable(kind: string, items: Record<string, unknown>[], columns: string[]): HTMLElement {
  const rows = items.map((item) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `/record?kind=${encodeURIComponent(kind)}&id=${encodeURIComponent(String(item.record_id))}`, "data-nav": true }, "detail")),
      columns.map((c) => h("td", { class: typeof item[c] === "number" ? "num" : "" }, brief(item[c]))),
    ),
  );
  return h(
    "div",
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Records" },
    h("table", { class: "records" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, ""), columns.map((c) => h("th", { scope: "col" }, label(c))))), h("tbody", {}, rows)),
  );
}

export async function fetchRecords(search: URLSearchParams, limit: number, cursor: string | null): Promise<RecordPage> {
  const q = listingQuery(search, limit);
  if (cursor) q.set("cursor", cursor);
  else q.delete("cursor");
  return getJson<RecordPage>(`/v1/records/${encodeURIComponent(search.get("kind") ?? "jobs")}?${q.toString()}`);
}

export function recordsPage(main: HTMLElement, search: URLSearchParams): void {
  const kind = search.get("kind") ?? "jobs";
  const cursors: (string | null)[] = []; // cursors of the pages before this one
  const filters = [...search].filter(([n]) => n.startsWith("f.")).map(([n, v]) => `${label(n.slice(2))} = ${v}`);
  const status = h("p", { class: "status", "aria-live": "polite" });
  const body = h("div", { "aria-busy": "true" });
  main.replaceChildren(
    h("h1", {}, `Records: ${label(kind)}`),
    h("p", {}, `${search.get("from") ?? "?"} to ${search.get("to") ?? "?"} (to exclusive)${filters.length ? `; ${filters.join(", ")}` : ""}.`),
    status,
    body,
  );

  const load = async (cursor: string | null): Promise<void> => {
    body.setAttribute("aria-busy", "true");
    try {
      const page = await fetchRecords(search, RECORDS_PAGE, cursor);
      const preferred = COLUMNS[kind] ?? [];
      const first = page.items[0] ?? {};
      const columns = preferred.filter((c) => c in first).concat(preferred.length ? [] : Object.keys(first).filter((k) => k !== "record_id").slice(0, 12));
      status.textContent = `Page ${cursors.length + 1}: ${page.items.length} records${page.next_cursor ? " (more follow)" : ""}.`;
      const previous = h("button", { type: "button", disabled: cursors.length === 0 }, "Previous");
      previous.addEventListener("click", () => void load(cursors.pop() ?? null));
      const next = h("button", { type: "button", disabled: !page.next_cursor }, "Next");
      next.addEventListener("click", () => {
        cursors.push(cursor);
        void load(page.next_cursor);
      });
      body.replaceChildren(
        page.items.length === 0
          ? h("p", { class: "empty" }, "No records in this cell.")
          : recordsTable(kind, page.items, columns),
        h("nav", { class: "pager", "aria-label": "Record pages" }, previous, next),
      );
    } catch (error) {
      body.replaceChildren(errorBox(error instanceof Error ? error.message : String(error)));
    } finally {
      body.setAttribute("aria-busy", "false");
    }
  };
  void load(search.get("cursor"));
}

export function recordPage(main: HTMLElement, search: URLSearchParams): void {
  const kind = search.get("kind") ?? "jobs";
  const id = search.get("id") ?? "";
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "loading" }, "Loading…"));
  main.replaceChildren(h("h1", {}, `One ${label(kind).replace(/s$/, "")}`), h("p", {}, h("button", { type: "button", class: "link", onclick: () => history.back() }, "Back to the list")), body);
  void getJson<Record<string, unknown>>(`/v1/records/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`)
    .then((record) => {
      const rows = Object.entries(record)
        .filter(([k]) => k !== "record_id")
        .map(([k, v]) => h("div", { class: "pair-row" }, h("dt", {}, label(k)), h("dd", {}, k.endsWith("_bytes") ? bytes(v) : show(v))));
      body.replaceChildren(h("dl", { class: "detail card" }, rows));
    })
    .catch((error: unknown) => body.replaceChildren(errorBox(error instanceof Error ? error.message : String(error))))
    .finally(() => body.setAttribute("aria-busy", "false"));
}
