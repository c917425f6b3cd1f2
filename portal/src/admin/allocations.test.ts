import { describe, expect, it } from "vitest";
import { type AllocationStatus, lastDay, noForecastText, resourcesText, runOutText, unitText, useChartOption, useSeries } from "./allocations";

const status = (over: Partial<AllocationStatus> = {}): AllocationStatus => ({
  allocation: { allocation_id: "a-1", project: "p", resources: [], unit: "hs06_core_hours", amount: 100, start: "2026-12-01", end: "2026-12-06", note: "" },
  as_of: "2026-12-03T12:00:00Z",
  used: 25,
  remaining: 75,
  percent_used: 25,
  exhausted: false,
  burn_rate_recent: 10,
  burn_window_days: 7,
  burn_rate_period: 10,
  elapsed_days: 2,
  forecast: { method: "ets", history_days: 28, expected_total: 70, lower_80: 60, upper_80: 80, lower_95: 50, upper_95: 90, runs_out_on: null, probability_exceeds: 0.01 },
  forecast_note: null,
  // Two complete days (10 + 10) and today so far (5).
  daily_use: [
    { day: "2026-12-01", used: 10 },
    { day: "2026-12-02", used: 10 },
    { day: "2026-12-03", used: 5 },
  ],
  ...over,
});

describe("an allocation's chart", () => {
  it("accumulates the daily use to the API's used, then runs the forecast from the last complete day", () => {
    const s = useSeries(status());
    expect(s.days).toEqual(["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05"]);
    expect(s.used).toEqual([10, 20, 25, null, null]);
    // From 20 on 12-02 to 70 on 12-05 (the last day): 50 over three days.
    expect(s.expected.map((v) => (v === null ? null : Math.round(v * 1000) / 1000))).toEqual([null, 20, 36.667, 53.333, 70]);
    expect(s.band80[1]).toEqual([20, 20]);
    expect(s.band80[4]).toEqual([60, 80]);
    expect(s.band95[4]).toEqual([50, 90]);
  });
  it("draws only the use when there is no forecast", () => {
    const s = useSeries(status({ forecast: null, forecast_note: "too little history" }));
    expect(s.used).toEqual([10, 20, 25, null, null]);
    expect(s.expected.every((v) => v === null)).toBe(true);
    expect(noForecastText(status({ forecast: null, forecast_note: "too little history" }))).toBe("No forecast: too little history.");
    expect(noForecastText(status())).toBeNull();
  });
  it("starts the forecast from nothing on the period's first day", () => {
    const s = useSeries(status({ daily_use: [{ day: "2026-12-01", used: 4 }] }));
    // Anchored at 0 the day before the start: 70 over five days, 14 a day.
    expect(s.expected).toEqual([14, 28, 42, 56, 70]);
  });
  it("stacks the band as a lower edge and a width", () => {
    const option = useChartOption(useSeries(status()), "HS06 core-hours", 100) as { series: { name: string; data: (number | null)[] }[] };
    const byName = new Map(option.series.map((x) => [x.name, x.data]));
    expect(byName.get("95 % lower")?.[4]).toBe(50);
    expect(byName.get("95 % interval")?.[4]).toBe(40);
    expect(byName.get("80 % interval")?.[4]).toBe(20);
    expect(byName.get("used")).toEqual([10, 20, 25, null, null]);
  });
});

describe("an allocation in words", () => {
  it("names its unit, resources, last day and run-out day", () => {
    expect(unitText({ unit: "money", currency: "EUR" })).toBe("EUR");
    expect(unitText({ unit: "gpu_hours" })).toBe("GPU-hours");
    expect(resourcesText({ resources: [] })).toBe("every resource");
    expect(resourcesText({ resources: [{ site: "S", resource: "hex" }, { site: "T", resource: null }] })).toBe("S / hex, T (all)");
    expect(lastDay("2027-01-01")).toBe("2026-12-31");
    expect(runOutText(status())).toBe("not within the period");
    expect(runOutText(status({ exhausted: true }))).toBe("used up");
    expect(runOutText(status({ forecast: null }))).toBe("no forecast");
  });
});
