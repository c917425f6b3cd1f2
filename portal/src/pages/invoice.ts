// One invoice: its line items, totals per currency, where it stands (issued, credited: its credit
// note and correction) and its downloads. Every figure is the API's exact decimal text.
import { ApiError, getJson } from "../api";
import { lastDay } from "../admin/allocations";
import { type InvoiceDocument, invoicePath, lineUnit, standing } from "../admin/invoice";
import { type InvoiceSummary, invoiceTitle, money } from "../admin/money";
import { errorBox, h } from "../dom";

const words = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function link(number: string): HTMLElement {
  return h("a", { href: invoicePath(number), "data-nav": true }, number);
}

function lines(doc: InvoiceDocument): HTMLElement {
  const head = ["site", "resource", "unit", "records", "quantity", "rate", "amount"];
  const rows = doc.lines.map((l) =>
    h(
      "tr",
      { "data-line": true },
      h("th", { scope: "row", "data-label": head[0] }, l.site),
      h("td", { "data-label": head[1] }, l.resource),
      h("td", { "data-label": head[2] }, lineUnit(l)),
      h("td", { class: "num", "data-label": head[3] }, l.records.toLocaleString("en")),
      h("td", { class: "num", "data-label": head[4], "data-quantity": l.quantity }, l.quantity),
      h("td", { class: "num", "data-label": head[5], "data-rate": l.rate }, money(l.rate, l.currency)),
      h("td", { class: "num", "data-label": head[6], "data-amount": l.amount, "data-currency": l.currency }, money(l.amount, l.currency)),
    ),
  );
  const totals = Object.entries(doc.totals).map(([currency, amount]) =>
    h("tr", { class: "total", "data-total": currency }, h("th", { scope: "row", colspan: 6, "data-label": "" }, `Total ${currency}`), h("td", { class: "num", "data-amount": amount, "data-label": "" }, money(amount, currency))),
  );
  return h(
    "div",
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Line items" },
    h("table", { class: "stack" }, h("thead", {}, h("tr", {}, head.map((n) => h("th", { scope: "col" }, n)))), h("tbody", {}, rows), h("tfoot", {}, totals)),
  );
}

export function invoicePage(main: HTMLElement, number: string): void {
  const body = h("div", { class: "money-results", "aria-busy": "true", "aria-label": `Invoice ${number}` }, h("p", { class: "status" }, "Loading…"));
  main.replaceChildren(h("p", {}, h("a", { href: "/invoices", "data-nav": true }, "All invoices")), h("h1", {}, `Invoice ${number}`), body);
  void (async () => {
    try {
      const base = `/v1/invoices/${encodeURIComponent(number)}`;
      const [doc, all] = await Promise.all([getJson<InvoiceDocument>(base), getJson<InvoiceSummary[]>("/v1/invoices")]);
      const where = standing(doc, all);
      const download = (fmt: string, label: string): HTMLElement => h("a", { href: `${base}.${fmt}`, download: `${doc.number}.${fmt}`, "data-download": fmt, class: "button" }, label);
      const facts: [string, Node | string][] = [
        ["Kind", invoiceTitle(doc)],
        ["Status", where.status],
        ["Project", doc.project + (doc.user ? ` (user ${doc.user})` : "")],
        ["Period", `${doc.period} (${doc.period_start} to ${lastDay(doc.period_end)})`],
        ["Issue date", doc.issue_date],
        ["Issuer", doc.issuer],
      ];
      if (where.creditNote) facts.push(["Cancelled by", link(where.creditNote)]);
      if (where.replacement) facts.push(["Replaced by", link(where.replacement)]);
      if (where.cancels) facts.push(["Cancels", link(where.cancels)]);
      if (where.corrects) facts.push(["Corrects", link(where.corrects)]);
      body.replaceChildren(
        h("dl", { class: "facts invoice-facts" }, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", { "data-fact": term.toLowerCase() }, value)])),
        doc.lines.length ? lines(doc) : h("p", { class: "empty" }, "This invoice has no line."),
        h("p", { class: "downloads" }, "Download: ", download("pdf", "PDF"), " ", download("csv", "CSV"), " ", download("xlsx", "Excel")),
      );
    } catch (error) {
      const said = error instanceof ApiError && error.status === 404 ? `No invoice ${number} within your grants (${words(error)}).` : words(error);
      body.replaceChildren(errorBox(said));
    } finally {
      body.setAttribute("aria-busy", "false");
    }
  })();
}
