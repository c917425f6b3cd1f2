// The links a person's grants earn beside Home and Explorer. The API decides every answer; this
// only keeps people from links that would be refused (the rules of tally.people.authz).
import type { Grant } from "../api";

export interface NavLink {
  href: string;
  label: string;
}

const INVOICES = new Set(["admin", "finance", "project_manager", "user"]);
const FINDINGS = new Set(["admin", "finance", "site_manager"]);
const CLOUD = new Set(["admin", "finance"]);
const ALERTS = new Set(["admin", "finance", "site_manager", "project_manager"]);
const ALLOCATIONS = new Set(["admin", "finance", "site_manager", "project_manager", "user"]);

export function sitePath(site: string): string {
  return `/sites/${encodeURIComponent(site)}`;
}

/** The site a /sites/{site} path names, or null for /sites itself or another path. */
export function siteOfPath(path: string): string | null {
  const match = /^\/sites\/([^/]+)$/.exec(path);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

export function adminLinks(grants: Grant[]): NavLink[] {
  const roles = new Set(grants.map((g) => g.role));
  const out: NavLink[] = [];
  if (roles.has("admin")) out.push({ href: "/sites", label: "Sites" });
  else {
    const sites = [...new Set(grants.filter((g) => g.role === "site_manager" && g.scope).map((g) => g.scope))];
    for (const site of sites) out.push({ href: sitePath(site), label: `Site ${site}` });
  }
  const any = (allowed: Set<string>): boolean => [...roles].some((r) => allowed.has(r));
  if (any(INVOICES)) out.push({ href: "/invoices", label: "Invoices" });
  if (any(FINDINGS)) out.push({ href: "/findings", label: "Findings" });
  if (any(CLOUD)) out.push({ href: "/cloud", label: "Cloud spend" });
  if (any(ALERTS)) out.push({ href: "/alerts", label: "Alerts" });
  if (any(ALLOCATIONS)) out.push({ href: "/allocations", label: "Allocations" });
  // Every signed-in person keeps their own subscriptions (of their own saved views).
  out.push({ href: "/subscriptions", label: "Subscriptions" });
  return out;
}
