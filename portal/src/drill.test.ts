import { describe, expect, it } from "vitest";
import { cellRecords, listingQuery, periodEnd } from "./drill";
import { decode } from "./state";

const TODAY = new Date(Date.UTC(2026, 11, 2));

describe("drill-down from a cell", () => {
  it("narrows the range to the cell's month and adds its values as filters", () => {
    const { state } = decode("kind=jobs&range=last-6-months&rows=site&cols=month&metrics=jobs&f.vo=atlas&f.site=A&f.site=B");
    const q = cellRecords(state, ["site", "month"], ["A", "2026-09-01"], TODAY);
    expect(q?.toString()).toBe("kind=jobs&from=2026-09-01&to=2026-10-01&f.vo=atlas&f.site=A");
    expect(listingQuery(q!, 50).toString()).toBe("from=2026-09-01&to=2026-10-01&vo=atlas&site=A&limit=50");
  });

  it("keeps the view's range where the period reaches past it", () => {
    const { state } = decode("kind=jobs&from=2026-09-15&to=2026-10-10&rows=month&cols=&metrics=jobs");
    expect(cellRecords(state, ["month"], ["2026-09-01"], TODAY)?.get("from")).toBe("2026-09-15");
    expect(cellRecords(state, ["month"], ["2026-10-01"], TODAY)?.get("to")).toBe("2026-10-10");
  });

  it("cannot drill into other or a missing value", () => {
    const { state } = decode("kind=jobs&rows=site&cols=&metrics=jobs&top=3");
    expect(cellRecords(state, ["site"], ["other"], TODAY)).toBeNull();
    expect(cellRecords(state, ["site"], [null], TODAY)).toBeNull();
  });

  it("knows where each period ends", () => {
    expect(periodEnd("day", "2026-12-31")).toBe("2027-01-01");
    expect(periodEnd("month", "2026-12-01")).toBe("2027-01-01");
    expect(periodEnd("quarter", "2026-10-01")).toBe("2027-01-01");
    expect(periodEnd("year", "2026-01-01")).toBe("2027-01-01");
  });
});
