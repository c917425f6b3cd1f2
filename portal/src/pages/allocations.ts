// Allocations: each one's used, remaining, burn rate and run-out day, and a chart of its
// cumulative use with the forecast's 80 % and 95 % band to the period's end. Figures are the API's.
import { MarkLineComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { ApiError, getJson } from "../api";
import { type Allocation, type AllocationStatus, lastDay, noForecastText, resourcesText, runOutText, unitText, useChartOption, useSeries } from "../admin/allocations";
import { draw } from "../chart";
import { errorBox, formatNumber, h } from "../dom";

echarts.use([MarkLineComponent]);

const words = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function figure(term: string, value: string, key: string, raw: number | null): HTMLElement[] {
  return [h("dt", {}, term), h("dd", { "data-figure": key, "data-value": raw ?? "" }, value)];
}

function statusCard(a: Allocation, s: AllocationStatus | null, refusal: string | null): HTMLElement {
  const unit = unitText(a);
  const title = `${a.project}: ${formatNumber(a.amount)} ${unit}`;
  const card = h("section", { class: "card allocation", "data-allocation": a.allocation_id, "aria-label": `Allocation ${title}` }, h("h2", {}, title));
  card.append(h("p", { class: "hint" }, `${a.start} to ${lastDay(a.end)} on ${resourcesText(a)}${a.note ? `. ${a.note}` : ""}`));
  if (!s) {
    card.append(errorBox(`Its status cannot be read: ${refusal ?? "no answer"}`));
    return card;
  }
  const rate = (v: number | null): string => (v === null ? "–" : `${formatNumber(v)} ${unit} a day`);
  card.append(
    h(
      "dl",
      { class: "facts figures" },
      figure("Used", `${formatNumber(s.used)} ${unit} (${formatNumber(s.percent_used)} %)`, "used", s.used),
      figure("Remaining", `${formatNumber(s.remaining)} ${unit}`, "remaining", s.remaining),
      figure(`Burn rate, last ${s.burn_window_days} days`, rate(s.burn_rate_recent), "burn_rate_recent", s.burn_rate_recent),
      figure("Burn rate, period so far", rate(s.burn_rate_period), "burn_rate_period", s.burn_rate_period),
      figure("Runs out on", runOutText(s), "runs_out_on", null),
      ...(s.forecast
        ? [
            ...figure("Expected at the end", `${formatNumber(s.forecast.expected_total)} ${unit}`, "expected_total", s.forecast.expected_total),
            ...figure("80 % interval", `${formatNumber(s.forecast.lower_80)} to ${formatNumber(s.forecast.upper_80)}`, "interval_80", null),
            ...figure("95 % interval", `${formatNumber(s.forecast.lower_95)} to ${formatNumber(s.forecast.upper_95)}`, "interval_95", null),
            ...figure("Chance of running over", `${formatNumber(s.forecast.probability_exceeds * 100)} %`, "probability_exceeds", s.forecast.probability_exceeds),
          ]
        : []),
    ),
  );
  const missing = noForecastText(s);
  if (missing) card.append(h("p", { class: "warn-text", "data-no-forecast": true }, missing));
  const series = useSeries(s);
  if (series.days.length) {
    const chartEl = h("div", { class: "chart", role: "img", "aria-label": `Cumulative use of ${title}${s.forecast ? ", with the forecast to the period's end" : ""}` });
    card.append(chartEl);
    // Drawn once the card is in the page, so the chart knows its width.
    requestAnimationFrame(() => {
      const drawn = draw(chartEl, useChartOption(series, unit, a.amount));
      chartEl.dataset.state = "ready";
      // Follow the page's width (a turned phone, a resized window); let go once the card is gone.
      const watch = new ResizeObserver(() => {
        if (!chartEl.isConnected) {
          watch.disconnect();
          drawn.chart.dispose();
        } else drawn.chart.resize();
      });
      watch.observe(card);
    });
    if (s.forecast) card.append(h("p", { class: "hint" }, `Forecast by ${s.forecast.method} from ${s.forecast.history_days} days of history; the band joins today's use to the intervals of the period's total.`));
  }
  return card;
}

interface Fairshare {
  at: string;
  half_life_days: number;
  unit: string;
  rows: { project: string | null; user: string | null; usage_hours: number; decayed_hours: number; share: number }[];
}

/** Fair share per project and user (Slurm's decay): the API's rows as a table. */
function fairshareSection(): HTMLElement {
  const body = h("div", { class: "money-results", "aria-busy": "true", "aria-label": "Fair share" }, h("p", { class: "status" }, "Loading…"));
  getJson<Fairshare>("/v1/fairshare?group_by=project,user")
    .then((fs) => {
      if (!fs.rows.length) {
        body.replaceChildren(h("p", { class: "empty" }, "No usage to share within your grants."));
        return;
      }
      const head = ["project", "user", "usage (hours)", "decayed (hours)", "share"];
      const rows = fs.rows.map((r) =>
        h(
          "tr",
          { "data-fairshare": `${r.project ?? ""}/${r.user ?? ""}` },
          h("th", { scope: "row", "data-label": head[0] }, r.project ?? "–"),
          h("td", { "data-label": head[1] }, r.user ?? "–"),
          h("td", { class: "num", "data-label": head[2], "data-value": r.usage_hours }, formatNumber(r.usage_hours)),
          h("td", { class: "num", "data-label": head[3], "data-value": r.decayed_hours }, formatNumber(r.decayed_hours)),
          h("td", { class: "num", "data-label": head[4], "data-value": r.share }, `${formatNumber(r.share * 100)} %`),
        ),
      );
      body.replaceChildren(
        h("p", { class: "hint" }, `${fs.unit.replace(/_/g, " ")} decayed with a half-life of ${formatNumber(fs.half_life_days)} days, to ${fs.at.slice(0, 16).replace("T", " ")} UTC.`),
        h(
          "div",
          { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Fair share table" },
          h("table", { class: "stack" }, h("thead", {}, h("tr", {}, head.map((n) => h("th", { scope: "col" }, n)))), h("tbody", {}, rows)),
        ),
      );
    })
    .catch((error: unknown) => body.replaceChildren(errorBox(`Fair share cannot be read: ${words(error)}`)))
    .finally(() => body.setAttribute("aria-busy", "false"));
  return h("section", { class: "card", "aria-label": "Fair share" }, h("h2", {}, "Fair share"), body);
}

export function allocationsPage(main: HTMLElement): void {
  const list = h("div", { class: "money-results", "aria-busy": "true", "aria-label": "Allocations" }, h("p", { class: "status" }, "Loading…"));
  main.replaceChildren(
    h("h1", {}, "Allocations"),
    h("p", { class: "hint" }, "What each allocation your grants reach has used, what remains, how fast it burns, and where the forecast says it ends."),
    list,
    fairshareSection(),
  );
  void (async () => {
    try {
      const allocations = await getJson<Allocation[]>("/v1/allocations");
      if (!allocations.length) {
        list.replaceChildren(h("p", { class: "empty" }, "No allocation within your grants."));
        return;
      }
      // One status each, side by side: a slow or refused one does not hold back the others.
      const cards = await Promise.all(
        allocations.map(async (a) => {
          try {
            return statusCard(a, await getJson<AllocationStatus>(`/v1/allocations/${encodeURIComponent(a.allocation_id)}/status`), null);
          } catch (error) {
            if (error instanceof ApiError && error.status === 503) return statusCard(a, null, `forecasts are unavailable on this server (${words(error)})`);
            return statusCard(a, null, words(error));
          }
        }),
      );
      list.replaceChildren(...cards);
    } catch (error) {
      list.replaceChildren(errorBox(words(error)));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  })();
}
