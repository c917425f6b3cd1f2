// Time range presets, resolved against a given day (UTC) so they are testable.

export const PRESETS = {
  "this-month": "This month",
  "last-month": "Last month",
  "this-and-last-month": "This month and last",
  "last-3-months": "Last 3 months",
  "last-6-months": "Last 6 months",
  "last-12-months": "Last 12 months",
  "this-year": "This year",
  "last-year": "Last year",
} as const;

export type Preset = keyof typeof PRESETS;
export type Range = { preset: Preset } | { from: string; to: string };

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function isPreset(name: string): name is Preset {
  return Object.prototype.hasOwnProperty.call(PRESETS, name);
}

/** A real calendar day written YYYY-MM-DD. */
export function isDay(text: string): boolean {
  if (!DAY.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

function iso(year: number, month: number): string {
  // month is 0-based and may overflow; Date.UTC normalises it.
  return new Date(Date.UTC(year, month, 1)).toISOString().slice(0, 10);
}

/** [from, to) as days, `to` exclusive, as the reports API takes them. */
export function resolve(range: Range, today: Date): { from: string; to: string } {
  if (!("preset" in range)) return { from: range.from, to: range.to };
  const y = today.getUTCFullYear();
  const m = today.getUTCMonth();
  switch (range.preset) {
    case "this-month":
      return { from: iso(y, m), to: iso(y, m + 1) };
    case "last-month":
      return { from: iso(y, m - 1), to: iso(y, m) };
    case "this-and-last-month":
      return { from: iso(y, m - 1), to: iso(y, m + 1) };
    case "last-3-months":
      return { from: iso(y, m - 2), to: iso(y, m + 1) };
    case "last-6-months":
      return { from: iso(y, m - 5), to: iso(y, m + 1) };
    case "last-12-months":
      return { from: iso(y, m - 11), to: iso(y, m + 1) };
    case "this-year":
      return { from: iso(y, 0), to: iso(y + 1, 0) };
    case "last-year":
      return { from: iso(y - 1, 0), to: iso(y, 0) };
  }
}

/** Why a custom range cannot be asked for, or null when it can. */
export function rangeProblem(range: Range): string | null {
  if ("preset" in range) return null;
  if (!isDay(range.from)) return `"from" must be a day written YYYY-MM-DD, not "${range.from}"`;
  if (!isDay(range.to)) return `"to" must be a day written YYYY-MM-DD, not "${range.to}"`;
  if (range.to <= range.from) return `"to" (${range.to}) must be after "from" (${range.from})`;
  return null;
}
