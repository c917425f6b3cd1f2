import { describe, expect, it } from "vitest";
import { decode, defaultState, encode, reportQuery, withKind } from "./state";
import { rangeProblem, resolve } from "./timerange";

const TODAY = new Date(Date.UTC(2026, 11, 2)); // 2 December 2026

describe("time ranges", () => {
  it("resolves presets to whole months, `to` exclusive, across a year end", () => {
    expect(resolve({ preset: "this-month" }, TODAY)).toEqual({ from: "2026-12-01", to: "2027-01-01" });
    expect(resolve({ preset: "last-month" }, TODAY)).toEqual({ from: "2026-11-01", to: "2026-12-01" });
    expect(resolve({ preset: "this-and-last-month" }, TODAY)).toEqual({ from: "2026-11-01", to: "2027-01-01" });
    expect(resolve({ preset: "last-6-months" }, TODAY)).toEqual({ from: "2026-07-01", to: "2027-01-01" });
    expect(resolve({ preset: "last-12-months" }, new Date(Date.UTC(2026, 0, 31)))).toEqual({ from: "2025-02-01", to: "2026-02-01" });
    expect(resolve({ preset: "last-year" }, TODAY)).toEqual({ from: "2025-01-01", to: "2026-01-01" });
  });

  it("says why a custom range cannot be asked for", () => {
    expect(rangeProblem({ from: "2026-02-30", to: "2026-03-01" })).toContain("YYYY-MM-DD");
    expect(rangeProblem({ from: "2026-03-01", to: "2026-03-01" })).toContain("must be after");
    expect(rangeProblem({ from: "2026-03-01", to: "2026-04-01" })).toBeNull();
  });
});

describe("the URL holds the state", () => {
  it("round-trips every part of a view", () => {
    const state = {
      ...defaultState("jobs"),
      range: { from: "2026-01-01", to: "2026-03-01" },
      rows: ["site", "resource"],
      cols: ["month"],
      metrics: ["core_hours", "jobs"],
      filters: { vo: ["atlas", "cms"], project: ["p&q=1"] },
      sort: "core_hours:desc",
      top: 5,
      chart: "line" as const,
      page: 3,
    };
    const search = encode(state);
    expect(search).toBe(
      "kind=jobs&from=2026-01-01&to=2026-03-01&rows=site%2Cresource&cols=month&metrics=core_hours%2Cjobs" +
        "&f.project=p%26q%3D1&f.vo=atlas&f.vo=cms&sort=core_hours%3Adesc&top=5&chart=line&page=3",
    );
    const back = decode(search);
    expect(back.dropped).toEqual([]);
    expect(back.state).toEqual(state);
  });

  it("drops, and names, what no view of the kind can show", () => {
    const { state, dropped } = decode(
      "kind=jobs&rows=site,bogus,month&cols=day&metrics=jobs,nope&f.password=x&f.site=A&sort=zzz:up&top=0&chart=radar&range=forever",
    );
    expect(state.rows).toEqual(["site", "month"]);
    expect(state.cols).toEqual([]); // a second time dimension
    expect(state.metrics).toEqual(["jobs"]);
    expect(state.filters).toEqual({ site: ["A"] });
    expect(state.sort).toBeNull();
    expect(state.top).toBeNull();
    expect(state.chart).toBe("bar");
    expect(state.range).toEqual({ preset: "last-6-months" });
    expect(dropped).toEqual([
      'time range "forever"',
      'dimension "bogus"',
      'a second time dimension "day"',
      'metric "nope"',
      'filter on "password"',
      'sort "zzz:up"',
      'top "0"',
      'chart "radar"',
    ]);
  });

  it("keeps top-N only with a dimension that is not a time", () => {
    expect(decode("rows=month&cols=&top=5").state.top).toBeNull();
    expect(decode("rows=month&cols=site&top=5").state.top).toBe(5);
    expect(decode("rows=site&top=10001").dropped).toEqual(['top "10001"']);
  });

  it("an unknown kind falls back to jobs and says so", () => {
    const { state, dropped } = decode("kind=secrets");
    expect(state.kind).toBe("jobs");
    expect(dropped).toEqual(['report kind "secrets"']);
  });
});

describe("the reports API request", () => {
  it("asks for rows and columns together, filters as dimension=value, sort and limit", () => {
    const { state } = decode("kind=jobs&range=last-month&rows=site&cols=month&metrics=jobs,core_hours&f.vo=atlas&f.vo=cms&sort=jobs:asc&top=3");
    expect(reportQuery(state, TODAY).toString()).toBe(
      "from=2026-11-01&to=2026-12-01&group_by=site%2Cmonth&metrics=jobs%2Ccore_hours&vo=atlas&vo=cms&order_by=jobs%3Aasc&limit=3",
    );
  });

  it("changing the kind keeps what the new kind has and defaults the rest", () => {
    const { state } = decode("kind=jobs&rows=site&cols=month&metrics=core_hours&f.user=me&f.vo=atlas");
    const vms = withKind(state, "vms");
    expect(vms.kind).toBe("vms");
    expect(vms.rows).toEqual(["site"]);
    expect(vms.cols).toEqual(["month"]);
    expect(vms.metrics).toEqual(["instance_days"]);
    expect(vms.filters).toEqual({ vo: ["atlas"] }); // VMs have no user dimension
    const storage = withKind(state, "storage");
    expect(storage.rows).toEqual(["site"]);
    expect(storage.cols).toEqual(["month"]);
  });
});
