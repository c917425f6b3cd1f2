// The money pages: invoices and credit notes, the verifier's findings, cloud spend against measured
// hours, and alerts. Every figure is the API's; the page lays it out.
import { getJson, sendJson } from "../api";
import { type InvoiceSummary, filterInvoices, filterSearch, invoiceFilter, invoiceTitle, money, spendRows, totalsText } from "../admin/money";
import { invoicePath } from "../admin/invoice";
import { errorBox, field, formatNumber, h, uid } from "../dom";
import type { Report } from "../pivot";
import { resolve } from "../timerange";

const words = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A table that, on a narrow screen, stacks each row's cells under their column names. */
function table(label: string, head: string[], rows: HTMLElement[]): HTMLElement {
  for (const row of rows) Array.from(row.children).forEach((c, i) => head[i] && c.setAttribute("data-label", head[i]));
  return h(
    "div",
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": label },
    h("table", { class: "stack" }, h("thead", {}, h("tr", {}, head.map((n) => h("th", { scope: "col" }, n)))), h("tbody", {}, rows)),
  );
}

/** A results area: busy while it loads, a refusal in words when the API says no. */
function results(label: string): { el: HTMLElement; fill: (draw: () => Promise<Node[]>) => void } {
  const el = h("div", { class: "money-results", "aria-busy": "true", "aria-label": label }, h("p", { class: "status" }, "Loading…"));
  const fill = (draw: () => Promise<Node[]>): void => {
    el.setAttribute("aria-busy", "true");
    draw()
      .then((nodes) => el.replaceChildren(...nodes))
      .catch((error: unknown) => el.replaceChildren(errorBox(words(error))))
      .finally(() => el.setAttribute("aria-busy", "false"));
  };
  return { el, fill };
}

const cell = (value: number | null, type = "number"): HTMLElement => h("td", { class: "num", "data-value": value ?? "" }, formatNumber(value, type));

export function invoicesPage(main: HTMLElement, search: URLSearchParams, go: (path: string) => void): void {
  const filter = invoiceFilter(search);
  const period = h("input", { type: "month", name: "period", id: uid("period"), value: filter.period });
  const project = h("input", { name: "project", id: uid("project"), value: filter.project, autocomplete: "off" });
  const form = h("form", { class: "inline filters", "aria-label": "Which invoices" }, field("Period (month)", period), field("Project", project), h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(`/invoices${filterSearch({ period: period.value, project: project.value.trim() })}`);
  });
  const { el, fill } = results("Invoices");
  main.replaceChildren(h("h1", {}, "Invoices"), h("p", { class: "hint" }, "Issued invoices are never changed: a correction is a credit note that cancels the invoice, and a new invoice."), form, el);
  fill(async () => {
    const shown = filterInvoices(await getJson<InvoiceSummary[]>("/v1/invoices"), filter);
    if (!shown.length) return [h("p", { class: "empty" }, "No invoice matches.")];
    const rows = shown.map((i) => {
      const base = `/v1/invoices/${encodeURIComponent(i.number)}`;
      const link = (fmt: string, label: string): HTMLElement => h("a", { href: `${base}.${fmt}`, download: `${i.number}.${fmt}`, "data-download": fmt, "aria-label": `${label} of ${i.number}` }, label);
      return h(
        "tr",
        { "data-invoice": i.number, class: i.kind === "credit_note" ? "credit" : "" },
        h("th", { scope: "row" }, h("a", { href: invoicePath(i.number), "data-nav": true, "aria-label": `Line items of ${i.number}` }, i.number)),
        h("td", {}, invoiceTitle(i)),
        h("td", {}, i.project + (i.user ? ` (${i.user})` : "")),
        h("td", {}, i.period),
        h("td", {}, i.issue_date),
        h("td", {}, i.sites.join(", ")),
        h("td", { class: "num", "data-totals": JSON.stringify(i.totals) }, totalsText(i.totals)),
        h("td", { class: "downloads" }, link("pdf", "PDF"), " ", link("csv", "CSV"), " ", link("xlsx", "Excel")),
      );
    });
    return [table("Invoices", ["number", "kind", "project", "period", "issued", "sites", "total", "download"], rows)];
  });
}

interface Finding {
  kind: string;
  provider: string;
  account: string | null;
  resource_id: string | null;
  instance_id: string | null;
  day: string | null;
  billing_period: string;
  billed_hours: number | null;
  measured_hours: number | null;
  cost: string | null;
  flagged_cost: string | null;
  currency: string | null;
  verdict: string;
  detail: string | null;
}

export function findingsPage(main: HTMLElement, search: URLSearchParams, go: (path: string) => void): void {
  const chosen = /^\d{4}-(0[1-9]|1[0-2])$/.test(search.get("period") ?? "") ? (search.get("period") as string) : "";
  const withOk = search.get("include_ok") === "true";
  const period = h("input", { type: "month", name: "period", id: uid("period"), value: chosen });
  const ok = h("input", { type: "checkbox", id: uid("ok"), checked: withOk });
  const form = h("form", { class: "inline filters", "aria-label": "Which findings" }, field("Billing period", period), h("div", { class: "field check" }, h("label", { for: ok.id }, ok, " Also the rows judged ok")), h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (period.value) q.set("period", period.value);
    if (ok.checked) q.set("include_ok", "true");
    go(`/findings${q.toString() ? `?${q.toString()}` : ""}`);
  });
  const { el, fill } = results("Findings");
  main.replaceChildren(h("h1", {}, "The verifier's findings"), h("p", { class: "hint" }, "Commercial cloud bills checked against the instances Tally measured: billed hours against measured hours per account and instance, and the money in question."), form, el);
  fill(async () => {
    const q = new URLSearchParams({ limit: "1000" });
    if (chosen) q.set("period", chosen);
    if (withOk) q.set("include_ok", "true");
    const found = await getJson<{ rows: Finding[]; truncated: boolean }>(`/v1/reconciliation?${q.toString()}`);
    if (!found.rows.length) return [h("p", { class: "empty" }, "The verifier found nothing to report here.")];
    const rows = found.rows.map((f) =>
      h(
        "tr",
        { class: f.verdict === "ok" ? "" : "warn", "data-verdict": f.verdict },
        h("th", { scope: "row" }, f.verdict),
        h("td", {}, f.billing_period),
        h("td", {}, f.kind === "invoice" ? "invoice" : "instance-day"),
        h("td", {}, f.provider),
        h("td", {}, f.account ?? "–"),
        h("td", {}, f.instance_id ?? f.resource_id ?? "–"),
        h("td", {}, f.day ?? ""),
        cell(f.billed_hours),
        cell(f.measured_hours),
        h("td", { class: "num" }, money(f.cost, f.currency)),
        h("td", { class: "num", "data-flagged": f.flagged_cost ?? "" }, money(f.flagged_cost, f.currency)),
        h("td", { class: "detail-text" }, f.detail ?? ""),
      ),
    );
    return [
      h("p", {}, `${found.rows.length.toLocaleString("en")} finding${found.rows.length === 1 ? "" : "s"}${found.truncated ? " (the first ones only: narrow the period)" : ""}.`),
      table("Findings", ["verdict", "period", "level", "provider", "account", "instance", "day", "billed h", "measured h", "cost", "in question", "detail"], rows),
    ];
  });
}

export function cloudPage(main: HTMLElement, today: Date): void {
  const { from, to } = resolve({ preset: "last-6-months" }, today);
  const { el, fill } = results("Cloud spend");
  main.replaceChildren(h("h1", {}, "Cloud spend against measured hours"), h("p", { class: "hint" }, `Billed cost (report cloud_cost) beside the instance hours Tally measured (report vms), per month, provider and account, ${from} to ${to} (end exclusive).`), el);
  fill(async () => {
    const base = { from, to, group_by: "month,provider,account" };
    const [cost, hours] = await Promise.all([
      getJson<Report>(`/v1/reports/cloud_cost?${new URLSearchParams({ ...base, metrics: "billed_cost,effective_cost" }).toString()}`),
      getJson<Report>(`/v1/reports/vms?${new URLSearchParams({ ...base, metrics: "measured_hours" }).toString()}`),
    ]);
    const rows = spendRows(cost.rows, hours.rows);
    if (!rows.length) return [h("p", { class: "empty" }, "No cloud bill and no measured instance in these months.")];
    return [
      table(
        "Cloud spend",
        ["month", "provider", "account", "currency", "billed cost", "effective cost", "measured hours", "billed per measured hour"],
        rows.map((r) =>
          h(
            "tr",
            { class: r.billed !== null && r.measuredHours === null ? "warn" : "" },
            h("th", { scope: "row" }, r.month.slice(0, 7)),
            h("td", {}, r.provider),
            h("td", {}, r.account || "–"),
            h("td", {}, r.currency ?? "–"),
            cell(r.billed),
            cell(r.effective),
            cell(r.measuredHours),
            cell(r.perHour),
          ),
        ),
      ),
      h("p", { class: "hint" }, "Highlighted: billed with no measured hour (an account Tally does not measure, or an instance it missed)."),
    ];
  });
}

interface Alert {
  alert_id: string;
  kind: string;
  state: string;
  subject: string;
  summary: string;
  site: string | null;
  project: string | null;
  amount: string | null;
  currency: string | null;
  fired_at: string;
  acknowledged_at: string | null;
}

export function alertsPage(main: HTMLElement, search: URLSearchParams, go: (path: string) => void): void {
  const state = search.get("state") === "resolved" ? "resolved" : search.get("state") === "all" ? "all" : "open";
  const choose = h("select", { id: uid("state"), name: "state" }, ["open", "resolved", "all"].map((s) => h("option", { value: s, selected: s === state }, s)));
  choose.addEventListener("change", () => go(`/alerts?state=${choose.value}`));
  const { el, fill } = results("Alerts");
  main.replaceChildren(h("h1", {}, "Alerts"), h("p", { class: "hint" }, "The alerts your grants reach: idle and stuck resources priced, agents gone quiet, allocations running out."), h("div", { class: "inline filters" }, field("State", choose)), el);
  const load = (): void =>
    fill(async () => {
      const q = state === "all" ? "" : `?state=${state}`;
      const alerts = await getJson<Alert[]>(`/v1/alerts${q}`);
      if (!alerts.length) return [h("p", { class: "empty" }, `No ${state === "all" ? "" : `${state} `}alert.`)];
      const rows = alerts.map((a) => {
        const ack = h("button", { type: "button", "aria-label": `Acknowledge: ${a.subject}` }, "Acknowledge");
        ack.addEventListener("click", () => {
          ack.setAttribute("disabled", "");
          sendJson("POST", `/v1/alerts/${encodeURIComponent(a.alert_id)}/acknowledge`)
            .then(load)
            .catch((error: unknown) => el.prepend(errorBox(words(error))));
        });
        return h(
          "tr",
          { "data-alert": a.alert_id },
          h("th", { scope: "row" }, a.kind),
          h("td", {}, a.state),
          h("td", {}, a.subject),
          h("td", { class: "detail-text" }, a.summary),
          h("td", {}, a.site ?? "–"),
          h("td", {}, a.project ?? "–"),
          h("td", { class: "num" }, a.amount ? money(a.amount, a.currency) : "–"),
          h("td", {}, a.fired_at.slice(0, 16).replace("T", " ")),
          h("td", {}, a.acknowledged_at ? `acknowledged ${a.acknowledged_at.slice(0, 10)}` : a.state === "open" ? ack : ""),
        );
      });
      return [table("Alerts", ["kind", "state", "subject", "summary", "site", "project", "money", "fired (UTC)", ""], rows)];
    });
  load();
}
