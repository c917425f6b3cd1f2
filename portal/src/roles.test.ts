import { describe, expect, it } from "vitest";
import { groupable, kindInfo } from "./catalog";
import { sections } from "./roles";
import { reportQuery } from "./state";

const TODAY = new Date(Date.UTC(2026, 11, 2));
const grant = (role: string, scope: string) => ({ grant_id: `g-${role}`, role, scope });

describe("home page per role", () => {
  it("gives one section per grant, in order", () => {
    const got = sections([grant("vo_manager", "atlas"), grant("site_manager", "NORTH-HPC"), grant("user", "p-1")], "p-1");
    expect(got.map((s) => s.title)).toEqual(["VO atlas", "Site NORTH-HPC", "My usage"]);
    expect(sections([], "p-1")).toEqual([]);
  });

  it("scopes each panel to its grant", () => {
    const [vo] = sections([grant("vo_manager", "atlas")], "p-1");
    for (const panel of vo!.panels) if (panel.type === "report") expect(panel.state.filters).toEqual({ vo: ["atlas"] });
    const [user] = sections([grant("user", "p-7")], "p-7");
    const first = user!.panels[0]!;
    expect(first.type === "report" && reportQuery(first.state, TODAY).toString()).toBe(
      "from=2026-11-01&to=2027-01-01&group_by=site%2Cresource%2Cmonth&metrics=normalised_core_hours%2Ccore_hours&user=p-7",
    );
    const [site] = sections([grant("site_manager", "S")], "p-1");
    expect(site!.panels.filter((p) => p.type === "ingest")).toEqual([
      { type: "ingest", id: "site-ingest", title: "S: ingest health, last 14 days", site: "S", days: 14 },
    ]);
  });

  it("finance's panels never ask by user (finance reads usage in aggregate)", () => {
    const [finance] = sections([grant("finance", "")], "p-1");
    for (const panel of finance!.panels) {
      if (panel.type !== "report") continue;
      expect([...panel.state.rows, ...panel.state.cols, ...Object.keys(panel.state.filters)]).not.toContain("user");
    }
  });

  it("every panel asks only for what the catalog offers", () => {
    const all = sections(
      ["user", "project_manager", "vo_manager", "site_manager", "finance", "admin"].map((r) => grant(r, "x")),
      "p-1",
    );
    for (const s of all) {
      for (const panel of s.panels) {
        if (panel.type !== "report") continue;
        const info = kindInfo(panel.state.kind);
        for (const d of [...panel.state.rows, ...panel.state.cols]) expect(groupable(panel.state.kind)).toContain(d);
        for (const m of panel.state.metrics) expect(Object.keys(info.metrics)).toContain(m);
        for (const f of Object.keys(panel.state.filters)) expect(info.dimensions).toContain(f);
      }
    }
  });
});

describe("a site's records per day", () => {
  it("asks for the last 14 days, today included, by day and resource", () => {
    const [site] = sections([grant("site_manager", "S")], "p-1", TODAY);
    const panel = site!.panels.find((p) => p.id === "site-records-per-day");
    expect(panel?.type === "report" && reportQuery(panel.state, TODAY).toString()).toBe(
      "from=2026-11-19&to=2026-12-03&group_by=day%2Cresource&metrics=jobs&site=S",
    );
  });
});
