// Allocations and their status (/v1/allocations, /v1/allocations/{id}/status) as the page shows
// them: every figure is the API's; the chart lays out its daily use and its forecast to the end.

export interface AllocationRef {
  site: string;
  resource: string | null;
}

export interface Allocation {
  allocation_id: string;
  project: string;
  resources: AllocationRef[];
  unit: "hepscore23_core_hours" | "hs06_core_hours" | "gpu_hours" | "money";
  amount: number;
  start: string;
  end: string; // exclusive
  note: string;
  currency?: string | null;
}

export interface Forecast {
  method: string;
  history_days: number;
  expected_total: number;
  lower_80: number;
  upper_80: number;
  lower_95: number;
  upper_95: number;
  runs_out_on: string | null;
  probability_exceeds: number;
}

export interface AllocationStatus {
  allocation: Allocation;
  as_of: string;
  used: number;
  remaining: number;
  percent_used: number;
  exhausted: boolean;
  burn_rate_recent: number | null;
  burn_window_days: number;
  burn_rate_period: number | null;
  elapsed_days: number;
  forecast: Forecast | null;
  forecast_note: string | null;
  daily_use?: { day: string; used: number }[];
}

const UNITS: Record<Allocation["unit"], string> = {
  hepscore23_core_hours: "HEPscore23 core-hours",
  hs06_core_hours: "HS06 core-hours",
  gpu_hours: "GPU-hours",
  money: "money",
};

export function unitText(a: Pick<Allocation, "unit" | "currency">): string {
  return a.unit === "money" ? (a.currency ?? "money") : UNITS[a.unit];
}

export function resourcesText(a: Pick<Allocation, "resources">): string {
  if (!a.resources.length) return "every resource";
  return a.resources.map((r) => (r.resource ? `${r.site} / ${r.resource}` : `${r.site} (all)`)).join(", ");
}

/** The period's last day: the API's end is exclusive. */
export function lastDay(end: string): string {
  const d = new Date(`${end}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/** When the expected use reaches the amount, in words. */
export function runOutText(s: AllocationStatus): string {
  if (s.exhausted) return "used up";
  if (!s.forecast) return "no forecast";
  return s.forecast.runs_out_on ? s.forecast.runs_out_on : "not within the period";
}

/** Why there is no forecast, in words (the API's note, or what a refusal said). */
export function noForecastText(s: Pick<AllocationStatus, "forecast" | "forecast_note">): string | null {
  if (s.forecast) return null;
  return `No forecast: ${s.forecast_note ?? "the server gave none"}.`;
}

export interface UseSeries {
  days: string[]; // every day of the period
  used: (number | null)[]; // cumulative use at the end of each day so far
  expected: (number | null)[];
  band80: [number | null, number | null][]; // [lower, upper] per day
  band95: [number | null, number | null][];
}

const DAY = 86_400_000;
const dayOf = (text: string): number => new Date(`${text}T00:00:00Z`).getTime();

/** The chart's series over the period's days: cumulative use so far (a running total of the API's
 * daily figures, whose last point is the API's `used`), and from the last complete day (the
 * forecast's base) a line to the expected total on the period's last day with its 80 % and 95 %
 * intervals there. The band joins base and interval linearly: the API gives the intervals of the
 * period's total, not of each day. */
export function useSeries(s: AllocationStatus): UseSeries {
  const { start, end } = s.allocation;
  const count = Math.max(Math.round((dayOf(end) - dayOf(start)) / DAY), 0);
  const days = Array.from({ length: count }, (_, i) => new Date(dayOf(start) + i * DAY).toISOString().slice(0, 10));
  const byDay = new Map((s.daily_use ?? []).map((d) => [d.day, d.used]));
  const shown = Math.min(s.daily_use?.length ?? 0, count); // the period's days so far, today included
  const used: (number | null)[] = days.map(() => null);
  let total = 0;
  for (let i = 0; i < shown; i += 1) {
    total += byDay.get(days[i] as string) ?? 0;
    used[i] = total;
  }
  const none = (): [number | null, number | null] => [null, null];
  const out: UseSeries = { days, used, expected: days.map(() => null), band80: days.map(none), band95: days.map(none) };
  const f = s.forecast;
  if (!f || shown === 0) return out;
  const anchor = shown - 2; // the last complete day (-1: the period starts today)
  const base = anchor >= 0 ? (used[anchor] as number) : 0;
  const last = count - 1;
  const at = (i: number, target: number): number => base + ((target - base) * (i - anchor)) / (last - anchor);
  for (let i = Math.max(anchor, 0); i <= last; i += 1) {
    out.expected[i] = at(i, f.expected_total);
    out.band80[i] = [at(i, f.lower_80), at(i, f.upper_80)];
    out.band95[i] = [at(i, f.lower_95), at(i, f.upper_95)];
  }
  return out;
}

/** The ECharts option of a useSeries: the 95 % and 80 % bands as stacked areas (lower edge, then
 * the width above it), the expected line dashed, the use so far solid. */
export function useChartOption(series: UseSeries, unit: string, amount: number): Record<string, unknown> {
  const lower = (band: [number | null, number | null][]): (number | null)[] => band.map(([lo]) => lo);
  const width = (band: [number | null, number | null][]): (number | null)[] => band.map(([lo, hi]) => (lo === null || hi === null ? null : hi - lo));
  const edge = (name: string, stack: string, data: (number | null)[]): Record<string, unknown> => ({ name, type: "line", stack, data, symbol: "none", lineStyle: { opacity: 0 }, tooltip: { show: false } });
  const area = (name: string, stack: string, data: (number | null)[], opacity: number): Record<string, unknown> => ({ name, type: "line", stack, data, symbol: "none", lineStyle: { opacity: 0 }, itemStyle: { color: "#4a7bd0", opacity: opacity * 2 }, areaStyle: { color: "#4a7bd0", opacity } });
  return {
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { type: "scroll", bottom: 0, data: ["used", "expected", "80 % interval", "95 % interval"] },
    grid: { left: 8, right: 64, top: 32, bottom: 40, containLabel: true },
    xAxis: { type: "category", data: series.days, boundaryGap: false },
    yAxis: { type: "value", name: unit, nameTextStyle: { align: "left" } },
    series: [
      edge("95 % lower", "b95", lower(series.band95)),
      area("95 % interval", "b95", width(series.band95), 0.15),
      edge("80 % lower", "b80", lower(series.band80)),
      area("80 % interval", "b80", width(series.band80), 0.25),
      { name: "expected", type: "line", data: series.expected, symbol: "none", lineStyle: { type: "dashed", color: "#1f4fa0" }, itemStyle: { color: "#1f4fa0" } },
      { name: "used", type: "line", data: series.used, symbol: "none", lineStyle: { width: 2, color: "#222" }, itemStyle: { color: "#222" }, markLine: { symbol: "none", silent: true, data: [{ yAxis: amount, name: "amount" }], label: { formatter: "allocated" } } },
    ],
  };
}
