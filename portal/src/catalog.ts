// What each report kind offers, as the server's catalog (tally.reports.catalog) says; a test on
// the server side fails when catalog.json drifts from it.
import data from "./catalog.json";

export interface KindInfo {
  label: string;
  dimensions: string[];
  time_dimensions: string[];
  metrics: Record<string, { type: string; description: string }>;
  default_metrics: string[];
}

export const KINDS: Record<string, KindInfo> = data.kinds;
export const KIND_NAMES = Object.keys(KINDS);
export const TIME_DIMENSIONS = ["day", "month", "quarter", "year"];
export const OTHER: string = data.other;
export const MAX_LIMIT: number = data.max_limit;

export function kindInfo(kind: string): KindInfo {
  const info = KINDS[kind];
  if (!info) throw new Error(`no report kind ${kind}`);
  return info;
}

/** Dimensions a report of `kind` may group by, time dimensions last. */
export function groupable(kind: string): string[] {
  const info = kindInfo(kind);
  return [...info.dimensions, ...info.time_dimensions];
}

export function isTime(dimension: string): boolean {
  return TIME_DIMENSIONS.includes(dimension);
}

/** Words for a name: "normalised_core_hours" -> "normalised core hours". */
export function label(name: string): string {
  return name.replace(/_/g, " ");
}
