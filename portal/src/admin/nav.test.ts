import { describe, expect, it } from "vitest";
import { adminLinks, siteOfPath, sitePath } from "./nav";

const grant = (role: string, scope = "") => ({ grant_id: `${role}-${scope}`, role, scope });
const labels = (roles: ReturnType<typeof grant>[]) => adminLinks(roles).map((l) => l.label);

describe("links by grant", () => {
  it("gives a plain user their invoices, allocations and subscriptions", () => {
    expect(labels([grant("user", "p-1")])).toEqual(["Invoices", "Allocations", "Subscriptions"]);
  });
  it("gives a site manager their sites, findings, alerts and allocations, no money", () => {
    expect(adminLinks([grant("site_manager", "SITE-A"), grant("site_manager", "SITE B")])).toEqual([
      { href: "/sites/SITE-A", label: "Site SITE-A" },
      { href: "/sites/SITE%20B", label: "Site SITE B" },
      { href: "/findings", label: "Findings" },
      { href: "/alerts", label: "Alerts" },
      { href: "/allocations", label: "Allocations" },
      { href: "/subscriptions", label: "Subscriptions" },
    ]);
  });
  it("gives finance the money pages and no site management", () => {
    expect(labels([grant("finance")])).toEqual(["Invoices", "Findings", "Cloud spend", "Alerts", "Allocations", "Subscriptions"]);
  });
  it("gives an admin every site and every page, once", () => {
    expect(labels([grant("admin"), grant("site_manager", "SITE-A"), grant("finance")])).toEqual([
      "Sites",
      "Invoices",
      "Findings",
      "Cloud spend",
      "Alerts",
      "Allocations",
      "Subscriptions",
    ]);
  });
  it("gives a VO manager their subscriptions only", () => {
    expect(labels([grant("vo_manager", "atlas")])).toEqual(["Subscriptions"]);
  });
});

describe("site paths", () => {
  it("round-trips a site name", () => {
    expect(siteOfPath(sitePath("SITE B/x"))).toBe("SITE B/x");
    expect(siteOfPath("/sites")).toBeNull();
    expect(siteOfPath("/sites/%E0%A4%A")).toBeNull();
  });
});
