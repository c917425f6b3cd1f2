// The site registry's forms turned into the API's bodies, checked before they are sent so a
// mistake is named beside the form (the server checks again and has the last word).

export type Fields = Record<string, string | boolean | undefined>;
export type Built = { ok: true; body: Record<string, unknown> } | { ok: false; errors: string[] };

export const BENCHMARK_TYPES = ["HEPscore23", "HS06"] as const;
export const MATCH_FIELDS = ["project", "local_group"] as const;
export const KEY_SCOPES = ["records:write", "reports:read", "registry:read", "registry:write", "billing:write", "billing:read"] as const;

export interface Benchmark {
  entry_id: string;
  site: string;
  resource: string;
  benchmark_type: string;
  benchmark_per_core: number;
  valid_from: string;
  valid_to: string | null;
  cores: number | null;
  note: string | null;
}

export interface ApplicationRule {
  entry_id: string;
  site: string;
  application: string;
  commercial: boolean;
  queue: string | null;
  project: string | null;
  job_name_pattern: string | null;
  priority: number;
  note: string | null;
}

export interface VoMapping {
  entry_id: string;
  site: string;
  match_field: string;
  match_value: string;
  vo: string;
  note: string | null;
}

function text(f: Fields, name: string): string {
  const value = f[name];
  return typeof value === "string" ? value.trim() : "";
}

/** A day (YYYY-MM-DD) as the instant it starts in UTC, or null when it is no real day. */
export function dayStart(day: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const at = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(at.getTime()) || at.toISOString().slice(0, 10) !== day) return null;
  return `${day}T00:00:00Z`;
}

function optional(body: Record<string, unknown>, name: string, value: string): void {
  if (value) body[name] = value;
}

export function benchmarkBody(site: string, f: Fields): Built {
  const errors: string[] = [];
  const resource = text(f, "resource");
  const type = text(f, "benchmark_type");
  const perCore = Number(text(f, "benchmark_per_core"));
  const from = dayStart(text(f, "valid_from"));
  const toText = text(f, "valid_to");
  const to = toText ? dayStart(toText) : null;
  const coresText = text(f, "cores");
  const cores = Number(coresText);
  if (!resource) errors.push("Name the resource.");
  if (!(BENCHMARK_TYPES as readonly string[]).includes(type)) errors.push("Choose the benchmark: HEPscore23 or HS06.");
  if (!text(f, "benchmark_per_core") || !Number.isFinite(perCore) || perCore <= 0 || perCore > 10_000)
    errors.push("The benchmark per core is a number above 0 and at most 10,000.");
  if (!from) errors.push("Give the first valid day as YYYY-MM-DD.");
  if (toText && !to) errors.push("Give the end day as YYYY-MM-DD, or leave it empty for an open interval.");
  if (from && to && to <= from) errors.push("The interval must end after it starts.");
  if (coresText && (!Number.isInteger(cores) || cores < 1)) errors.push("Cores, when given, is a whole number of at least 1.");
  if (errors.length) return { ok: false, errors };
  const body: Record<string, unknown> = { site, resource, benchmark_type: type, benchmark_per_core: perCore, valid_from: from, valid_to: to };
  if (coresText) body.cores = cores;
  optional(body, "note", text(f, "note"));
  return { ok: true, body };
}

/** The replacement of an open interval that ends it at the start of `day`. */
export function endBody(entry: Benchmark, day: string): Built {
  const to = dayStart(day.trim());
  if (!to) return { ok: false, errors: ["Give the end day as YYYY-MM-DD."] };
  if (Date.parse(to) <= Date.parse(entry.valid_from)) return { ok: false, errors: ["The interval must end after it starts."] };
  const { entry_id: _id, ...rest } = entry;
  const kept = Object.fromEntries(Object.entries(rest).filter(([k, v]) => k !== "updated_at" && v !== null));
  return { ok: true, body: { ...kept, valid_to: to } };
}

export function applicationBody(site: string, f: Fields): Built {
  const errors: string[] = [];
  const application = text(f, "application");
  const queue = text(f, "queue");
  const project = text(f, "project");
  const pattern = text(f, "job_name_pattern");
  const priorityText = text(f, "priority");
  const priority = priorityText ? Number(priorityText) : 100;
  if (!application) errors.push("Name the application.");
  if (!queue && !project && !pattern) errors.push("A rule needs a queue, a project or a job name pattern to match.");
  if (!Number.isInteger(priority) || priority < 0 || priority > 1_000_000) errors.push("The priority is a whole number from 0 to 1,000,000.");
  if (errors.length) return { ok: false, errors };
  const body: Record<string, unknown> = { site, application, commercial: f.commercial === true, priority };
  optional(body, "queue", queue);
  optional(body, "project", project);
  optional(body, "job_name_pattern", pattern);
  optional(body, "note", text(f, "note"));
  return { ok: true, body };
}

export function voMappingBody(site: string, f: Fields): Built {
  const errors: string[] = [];
  const field = text(f, "match_field");
  const value = text(f, "match_value");
  const vo = text(f, "vo");
  if (!(MATCH_FIELDS as readonly string[]).includes(field)) errors.push("Match on the project or the local group.");
  if (!value) errors.push("Give the value to match.");
  if (!vo) errors.push("Name the VO.");
  if (errors.length) return { ok: false, errors };
  const body: Record<string, unknown> = { site, match_field: field, match_value: value, vo };
  optional(body, "note", text(f, "note"));
  return { ok: true, body };
}

/** The resources a new key is restricted to, from a comma- or space-separated list. */
export function keyResources(list: string): string[] {
  return [...new Set(list.split(/[\s,]+/).filter(Boolean))];
}

/** A validity interval in words: days, the end exclusive, an open end said so. */
export function interval(from: string, to: string | null): string {
  const day = (at: string): string => at.slice(0, 10);
  return to ? `${day(from)} to ${day(to)} (end exclusive)` : `from ${day(from)}, open`;
}
