// The home page of each role: which panels a person's grants give them. Pure, so it is tested.
import type { Grant } from "./api";
import { efficiencyPanel, energyPanel } from "./footprint";
import { type ExplorerState, defaultState } from "./state";

export const ROLE_TITLES: Record<string, string> = {
  user: "My usage",
  project_manager: "Project",
  vo_manager: "Virtual organisation",
  site_manager: "Site",
  finance: "Finance",
  admin: "Every site",
};

export interface ReportPanel {
  type: "report";
  id: string;
  title: string;
  state: ExplorerState;
  // Rows are days and columns resources or sites: name the columns with no record lately.
  quiet?: boolean;
}

/** The last `days` days, today included, as a custom range. */
export function lastDays(days: number, today: Date): { from: string; to: string } {
  const day = (offset: number): string => new Date(today.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  return { from: day(-(days - 1)), to: day(1) };
}

export interface IngestPanel {
  type: "ingest";
  id: string;
  title: string;
  site: string | null; // null: every site the caller's grants reach
  days: number;
}

/** The latest records of a listing (GET /v1/records/{kind}), newest first. */
export interface RecordsPanel {
  type: "records";
  id: string;
  title: string;
  search: URLSearchParams; // as /records takes it: kind, from, to, f.<dimension>
  columns: string[];
}

export type Panel = ReportPanel | IngestPanel | RecordsPanel;

export interface Section {
  role: string;
  scope: string;
  title: string;
  panels: Panel[];
}

function view(kind: string, parts: Partial<ExplorerState>): ExplorerState {
  return { ...defaultState(kind), ...parts };
}

const MONTHS = { preset: "last-6-months" } as const;

function community(dim: "project" | "vo", scope: string): Panel[] {
  const filters = { [dim]: [scope] };
  return [
    {
      type: "report",
      id: `${dim}-by-site`,
      title: `Usage of ${scope} by site and month`,
      state: view("jobs", { range: MONTHS, rows: ["month"], cols: ["site"], metrics: ["normalised_core_hours"], filters }),
    },
    {
      type: "report",
      id: `${dim}-top-users`,
      title: `Top users of ${scope}`,
      state: view("jobs", { range: MONTHS, rows: ["user"], cols: [], metrics: ["normalised_core_hours", "jobs"], filters, top: 10, chart: "pie" }),
    },
    {
      type: "report",
      id: `${dim}-users-by-month`,
      title: `Users of ${scope} by month`,
      state: view("jobs", { range: MONTHS, rows: ["month"], cols: ["user"], metrics: ["core_hours"], filters, top: 8 }),
    },
  ];
}

/** The sections of a person's home page, one per grant, in the order the grants come. */
export function sections(grants: Grant[], personId: string, today: Date = new Date()): Section[] {
  const fortnight = lastDays(14, today);
  const out: Section[] = [];
  for (const grant of grants) {
    const base = { role: grant.role, scope: grant.scope, title: ROLE_TITLES[grant.role] ?? grant.role };
    switch (grant.role) {
      case "user": {
        const mine = { user: [grant.scope || personId] };
        const twoMonths = { preset: "this-and-last-month" } as const;
        out.push({
          ...base,
          panels: [
            {
              type: "report",
              id: "user-by-site",
              title: "My usage this month and last, by site and resource (normalised)",
              state: view("jobs", { range: twoMonths, rows: ["site", "resource"], cols: ["month"], metrics: ["normalised_core_hours", "core_hours"], filters: mine }),
            },
            {
              type: "records",
              id: "user-latest-jobs",
              title: "My latest jobs: CPU efficiency and memory used of requested",
              search: new URLSearchParams({ kind: "jobs", ...lastDays(30, today), "f.user": grant.scope || personId }),
              columns: ["end_time", "resource", "state", "cores", "cpu_efficiency", "memory_used_fraction"],
            },
            {
              type: "report",
              id: "user-jobs",
              title: "My jobs by state and month",
              state: view("jobs", { range: MONTHS, rows: ["month"], cols: ["state"], metrics: ["jobs"], filters: mine }),
            },
            {
              type: "report",
              id: "user-efficiency",
              title: "My CPU efficiency (CPU time per core time) by resource",
              state: view("jobs", { range: MONTHS, rows: ["month"], cols: ["resource"], metrics: ["cpu_efficiency"], filters: mine, chart: "line" }),
            },
            energyPanel("user", "My", mine),
          ],
        });
        break;
      }
      case "project_manager":
        out.push({
          ...base,
          title: `Project ${grant.scope}`,
          panels: [
            ...community("project", grant.scope),
            energyPanel("project", `${grant.scope}:`, { project: [grant.scope] }),
            efficiencyPanel("project", `${grant.scope}:`, { project: [grant.scope] }),
          ],
        });
        break;
      case "vo_manager":
        out.push({ ...base, title: `VO ${grant.scope}`, panels: community("vo", grant.scope) });
        break;
      case "site_manager": {
        const filters = { site: [grant.scope] };
        out.push({
          ...base,
          title: `Site ${grant.scope}`,
          panels: [
            {
              type: "report",
              id: "site-by-vo",
              title: `${grant.scope}: usage by VO and month`,
              state: view("jobs", { range: MONTHS, rows: ["month"], cols: ["vo"], metrics: ["normalised_core_hours"], filters }),
            },
            {
              type: "report",
              id: "site-by-project",
              title: `${grant.scope}: top projects`,
              state: view("jobs", { range: MONTHS, rows: ["project"], cols: [], metrics: ["core_hours", "jobs"], filters, top: 10, chart: "treemap" }),
            },
            {
              type: "report",
              id: "site-top-users",
              title: `${grant.scope}: top users`,
              state: view("jobs", { range: MONTHS, rows: ["user"], cols: [], metrics: ["core_hours", "jobs"], filters, top: 10, chart: "pie" }),
            },
            {
              type: "report",
              id: "site-records-per-day",
              title: `${grant.scope}: jobs ended per day and resource, last 14 days`,
              state: view("jobs", { range: fortnight, rows: ["day"], cols: ["resource"], metrics: ["jobs"], filters }),
              quiet: true,
            },
            { type: "ingest", id: "site-ingest", title: `${grant.scope}: ingest health, last 14 days`, site: grant.scope, days: 14 },
          ],
        });
        break;
      }
      case "admin":
        out.push({
          ...base,
          panels: [
            {
              type: "report",
              id: "admin-jobs-by-site",
              title: "Compute usage by site and month",
              state: view("jobs", { range: MONTHS, rows: ["month"], cols: ["site"], metrics: ["normalised_core_hours"] }),
            },
            {
              type: "report",
              id: "admin-records-by-resource",
              title: "Records per site and resource",
              state: view("jobs", { range: MONTHS, rows: ["site", "resource"], cols: [], metrics: ["jobs", "core_hours", "normalised_core_hours"], chart: "treemap" }),
            },
            {
              type: "report",
              id: "admin-vms-by-site",
              title: "Cloud VM hours by site and provider",
              state: view("vms", { range: MONTHS, rows: ["month"], cols: ["provider"], metrics: ["vcpu_hours"] }),
            },
            {
              type: "report",
              id: "admin-gpus-by-site",
              title: "GPU hours by site and model",
              state: view("accelerators", { range: MONTHS, rows: ["site", "model"], cols: [], metrics: ["device_hours"], chart: "treemap" }),
            },
            {
              type: "report",
              id: "admin-records-per-day",
              title: "Jobs ended per day and site, last 14 days",
              state: view("jobs", { range: fortnight, rows: ["day"], cols: ["site"], metrics: ["jobs"] }),
              quiet: true,
            },
            { type: "ingest", id: "admin-ingest", title: "Ingest, every site, last 14 days", site: null, days: 14 },
          ],
        });
        break;
      case "finance":
        out.push({
          ...base,
          panels: [
            {
              type: "report",
              id: "finance-cloud-hours",
              title: "Cloud: measured instance hours by provider and account",
              state: view("vms", { range: MONTHS, rows: ["month"], cols: ["provider", "account"], metrics: ["measured_hours"] }),
            },
            {
              type: "report",
              id: "finance-cloud-vcpu",
              title: "Cloud: vCPU hours by provider and instance type",
              state: view("vms", { range: MONTHS, rows: ["provider", "instance_type"], cols: [], metrics: ["vcpu_hours", "measured_hours"], top: 15, chart: "treemap" }),
            },
            {
              type: "report",
              id: "finance-compute-by-site",
              title: "Compute: normalised core hours by site and month",
              state: view("jobs", { range: MONTHS, rows: ["month"], cols: ["site"], metrics: ["normalised_core_hours"] }),
            },
          ],
        });
        break;
      default:
        break;
    }
  }
  return out;
}
