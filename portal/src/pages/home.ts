// The home page: one section per grant the person holds, each panel a report or ingest health.
import { type IngestCount, type Me, getJson } from "../api";
import { chartOption, draw } from "../chart";
import { errorBox, formatNumber, h, uid } from "../dom";
import type { Pivot } from "../pivot";
import { fetchReport, failure, render } from "../results";
import { type IngestPanel, type Panel, sections } from "../roles";
import { encode } from "../state";
import { deleteView, listViews, viewHref } from "../views";
import { fetchRecords, recordsTable } from "./records";

function day(offset: number, today: Date): string {
  return new Date(today.getTime() - offset * 86_400_000).toISOString().slice(0, 10);
}

async function ingestPanel(body: HTMLElement, panel: IngestPanel, today: Date): Promise<void> {
  const q = new URLSearchParams({ since: day(panel.days - 1, today) });
  if (panel.site) q.set("site", panel.site);
  const counts = await getJson<IngestCount[]>(`/v1/ingest/status?${q.toString()}`);
  body.replaceChildren();
  if (counts.length === 0) {
    body.append(h("p", { class: "empty" }, `No records arrived in the last ${panel.days} days: the agents may have gone quiet.`));
    return;
  }
  // Laid out as a pivot of the server's counters (day down, site and kind across): no sums here.
  const days = [...new Set(counts.map((c) => c.day))].sort();
  const keys = [...new Set(counts.map((c) => `${c.site} · ${c.kind}`))].sort();
  const p: Pivot = {
    rowDims: ["day"],
    colDims: ["site · kind"],
    metrics: ["accepted"],
    columns: keys.map((k) => ({ key: k, labels: [k], values: [k], metric: "accepted" })),
    rows: days.map((d) => ({
      key: d,
      labels: [d],
      values: [d],
      cells: keys.map((k) => counts.find((c) => c.day === d && `${c.site} · ${c.kind}` === k)?.accepted ?? null),
    })),
  };
  const chartEl = h("div", { class: "chart small", role: "img", "aria-label": "Records accepted per day" });
  body.append(chartEl);
  draw(chartEl, chartOption(p, "bar", "accepted").option);
  chartEl.dataset.state = "ready";
  const rejected = counts.filter((c) => c.rejected > 0);
  const rows = [...counts].sort((a, b) => (a.day < b.day ? 1 : a.day > b.day ? -1 : 0)).slice(0, 30);
  body.append(
    h("p", {}, rejected.length === 0 ? "No record was rejected (quarantined) in this period." : `${rejected.length} site-days had rejected records (kept in quarantine with their reasons).`),
    h(
      "div",
      { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Ingest counters" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, ["site", "day", "kind", "accepted", "duplicates", "rejected"].map((n) => h("th", { scope: "col" }, n)))),
        h(
          "tbody",
          {},
          rows.map((c) =>
            h(
              "tr",
              { class: c.rejected > 0 ? "warn" : "" },
              h("th", { scope: "row" }, c.site),
              h("td", {}, c.day),
              h("td", {}, c.kind),
              h("td", { class: "num" }, formatNumber(c.accepted, "integer")),
              h("td", { class: "num" }, formatNumber(c.duplicates, "integer")),
              h("td", { class: "num" }, formatNumber(c.rejected, "integer")),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Which columns (resources, sites) had no record in the last two days of a by-day pivot. */
export function quietNote(p: Pivot, today: Date): HTMLElement {
  const since = day(1, today);
  const quiet: string[] = [];
  p.columns.forEach((column, i) => {
    const days = p.rows.filter((r) => r.cells[i] !== null && (r.cells[i] as number) > 0).map((r) => r.labels[0] ?? "");
    const last = days.sort().at(-1);
    if (last === undefined || last < since) quiet.push(`${column.labels.join(" · ")} (last ${last ?? "none in 14 days"})`);
  });
  return quiet.length === 0
    ? h("p", { class: "hint" }, "Every resource here has records from yesterday or today.")
    : h("p", { class: "warn-text", role: "status" }, `Quiet lately (no record since ${since}): ${quiet.join(", ")}.`);
}

/** Runs at most `width` loads at once, in order: the server has few cores, and the first panel
 * should not wait behind all the others for its chart. */
function queue(width: number): (work: () => Promise<void>) => void {
  const waiting: (() => Promise<void>)[] = [];
  let running = 0;
  const next = (): void => {
    while (running < width && waiting.length > 0) {
      const work = waiting.shift()!;
      running += 1;
      void work().finally(() => {
        running -= 1;
        next();
      });
    }
  };
  return (work) => {
    waiting.push(work);
    next();
  };
}

function panelCard(panel: Panel, today: Date, enqueue: (work: () => Promise<void>) => void): HTMLElement {
  const body = h("div", { class: "panel-body", "aria-busy": "true" }, h("p", { class: "loading" }, "Loading…"));
  const actions =
    panel.type === "report"
      ? h("a", { href: `/explore?${encode(panel.state)}`, "data-nav": true, class: "open" }, "Open in the explorer")
      : panel.type === "records"
        ? h("a", { href: `/records?${panel.search.toString()}`, "data-nav": true, class: "open" }, "All of them, page by page")
        : null;
  const card = h("section", { class: "card panel", "data-panel": panel.id, "aria-label": panel.title }, h("h3", {}, panel.title), body, actions);
  enqueue(() => {
    const work =
      panel.type === "report"
        ? fetchReport(panel.state, today).then((report) => {
            const shown = render(body, panel.state, report, { compact: true, onPage: null });
            if (panel.quiet) body.prepend(quietNote(shown.pivot, today));
          })
        : panel.type === "records"
          ? fetchRecords(panel.search, 10, null).then((page) => {
              body.replaceChildren(
                page.items.length === 0
                  ? h("p", { class: "empty" }, "No job of yours ended in the last 30 days.")
                  : recordsTable(panel.search.get("kind") ?? "jobs", page.items, panel.columns),
              );
            })
          : ingestPanel(body, panel, today);
    return work.catch((error: unknown) => failure(body, error)).finally(() => body.setAttribute("aria-busy", "false"));
  });
  return card;
}

function savedViews(): HTMLElement {
  const list = h("div", { class: "saved", "aria-busy": "true" }, h("p", { class: "loading" }, "Loading…"));
  const draw = (): void => {
    listViews()
      .then((views) => {
        if (views.length === 0) {
          list.replaceChildren(h("p", { class: "hint" }, "No saved view yet: save one from the explorer."));
          return;
        }
        list.replaceChildren(
          h(
            "ul",
            { class: "views" },
            views.map((v) => {
              const href = viewHref(v);
              const remove = h("button", { type: "button", "aria-label": `Delete the saved view ${v.title}` }, "Delete");
              remove.addEventListener("click", () => {
                remove.disabled = true;
                deleteView(v.name)
                  .then(draw)
                  .catch((error: unknown) => list.prepend(errorBox(`Not deleted: ${error instanceof Error ? error.message : String(error)}`)));
              });
              // Named "Subscribe", described by the view's own link (its title stays that link's alone).
              const id = uid("view");
              const subscribe = href ? h("a", { href: `/subscriptions?view=${encodeURIComponent(v.name)}`, "data-nav": true, "aria-describedby": id }, "Subscribe") : null;
              return h("li", {}, href ? h("a", { href, "data-nav": true, id }, v.title) : h("span", {}, `${v.title} (saved by another version of the portal)`), " ", subscribe, " ", remove);
            }),
          ),
        );
      })
      .catch((error: unknown) => list.replaceChildren(errorBox(`Saved views cannot be read: ${error instanceof Error ? error.message : String(error)}`)))
      .finally(() => list.setAttribute("aria-busy", "false"));
  };
  draw();
  return h("section", { class: "card", "aria-label": "My saved views", "data-saved-views": true }, h("h2", {}, "My saved views"), list);
}

export function homePage(main: HTMLElement, me: Me, today: Date): void {
  const parts = sections(me.grants, me.person.person_id, today);
  const content: HTMLElement[] = [h("h1", {}, `Welcome, ${me.person.name}`), savedViews()];
  if (parts.length === 0) {
    content.push(errorBox("Your account holds no grant yet, so there is no usage to show. Ask a site manager or an admin for one."));
  }
  const enqueue = queue(2);
  for (const s of parts) {
    content.push(h("h2", {}, s.title), h("div", { class: "panels" }, s.panels.map((p) => panelCard(p, today, enqueue))));
  }
  main.replaceChildren(...content);
}
