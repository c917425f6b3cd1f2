import { describe, expect, it } from "vitest";
import { type Report, columnTitle, page, pivot, toCsv } from "./pivot";

const REPORT: Report = {
  kind: "jobs",
  from: "2026-09-01T00:00:00Z",
  to: "2026-11-01T00:00:00Z",
  group_by: ["site", "month"],
  columns: [
    { name: "site", type: "string" },
    { name: "month", type: "date" },
    { name: "jobs", type: "integer" },
    { name: "core_hours", type: "number" },
  ],
  // As the server orders them: by core hours, "other" wherever it falls.
  rows: [
    { site: "B", month: "2026-10-01", jobs: 5, core_hours: 70.5 },
    { site: "other", month: "2026-09-01", jobs: 9, core_hours: 60 },
    { site: "A", month: "2026-09-01", jobs: 2, core_hours: 50.25 },
    { site: "B", month: "2026-09-01", jobs: 1, core_hours: 10 },
    { site: "A, the first", month: "2026-10-01", jobs: 3, core_hours: 1e-6 },
  ],
};

describe("pivot", () => {
  it("lays out the server's rows without summing: rows in the server's order, other last, months ascending", () => {
    const p = pivot(REPORT, ["site"], ["month"], ["jobs", "core_hours"]);
    expect(p.rows.map((r) => r.labels[0])).toEqual(["B", "A", "A, the first", "other"]);
    expect(p.columns.map((c) => `${c.labels[0]}/${c.metric}`)).toEqual([
      "2026-09-01/jobs",
      "2026-09-01/core_hours",
      "2026-10-01/jobs",
      "2026-10-01/core_hours",
    ]);
    expect(p.rows.map((r) => r.cells)).toEqual([
      [1, 10, 5, 70.5],
      [2, 50.25, null, null],
      [null, null, 3, 1e-6],
      [9, 60, null, null],
    ]);
  });

  it("time rows go in time order", () => {
    const p = pivot(REPORT, ["month"], ["site"], ["jobs"]);
    expect(p.rows.map((r) => r.labels[0])).toEqual(["2026-09-01", "2026-10-01"]);
    expect(p.columns.map((c) => c.labels[0])).toEqual(["B", "A", "A, the first", "other"]);
  });

  it("writes RFC 4180 CSV of the table as shown, numbers unrounded, empty where the server had no row", () => {
    const p = pivot(REPORT, ["site"], ["month"], ["core_hours"]);
    expect(toCsv(p)).toBe(
      "site,2026-09-01,2026-10-01\r\n" + "B,10,70.5\r\n" + "A,50.25,\r\n" + '"A, the first",,0.000001\r\n' + "other,60,\r\n",
    );
    expect(columnTitle(p.columns[0]!, ["month"], 2)).toBe("2026-09-01 · core_hours");
  });

  it("pages rows, clamping a page past the end", () => {
    const items = Array.from({ length: 250 }, (_, i) => i);
    expect(page(items, 1, 100).items).toHaveLength(100);
    expect(page(items, 3, 100)).toEqual({ items: items.slice(200), pages: 3, page: 3 });
    expect(page(items, 9, 100).page).toBe(3);
    expect(page([], 1, 100)).toEqual({ items: [], pages: 1, page: 1 });
  });
});
