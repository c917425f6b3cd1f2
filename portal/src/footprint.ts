// The energy, emissions and efficiency panels of the user's and the project manager's home pages.
// Energy is what the batch system measured (NULL months: none measured); CO2e uses the site's
// carbon intensity from the registry at each job's end.
import type { ReportPanel } from "./roles";
import { defaultState } from "./state";

const MONTHS = { preset: "last-6-months" } as const;

/** Energy and estimated emissions by month, for the jobs `filters` select. */
export function energyPanel(id: string, whose: string, filters: Record<string, string[]>): ReportPanel {
  return {
    type: "report",
    id: `${id}-energy`,
    title: `${whose} energy (kWh) and estimated emissions (kg CO2e) by month`,
    state: { ...defaultState("jobs"), range: MONTHS, rows: ["month"], cols: [], metrics: ["energy_kwh", "co2e_kg"], filters },
  };
}

/** CPU time per core time and peak memory per memory requested, by month. */
export function efficiencyPanel(id: string, whose: string, filters: Record<string, string[]>): ReportPanel {
  return {
    type: "report",
    id: `${id}-efficiency`,
    title: `${whose} CPU and memory efficiency by month`,
    state: { ...defaultState("jobs"), range: MONTHS, rows: ["month"], cols: [], metrics: ["cpu_efficiency", "memory_efficiency"], filters, chart: "line" },
  };
}
