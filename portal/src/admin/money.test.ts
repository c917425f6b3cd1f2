import { describe, expect, it } from "vitest";
import { type InvoiceSummary, filterInvoices, filterSearch, invoiceFilter, invoiceTitle, money, spendRows, totalsText } from "./money";

const inv = (number: string, period: string, project: string, over: Partial<InvoiceSummary> = {}): InvoiceSummary => ({
  number,
  kind: "invoice",
  project,
  user: null,
  person_id: null,
  period,
  issue_date: "2026-04-01",
  totals: { EUR: "1.5" },
  credits: null,
  corrects: null,
  sites: ["S"],
  ...over,
});

describe("invoices", () => {
  const list = [inv("INV-1", "2026-03", "p1"), inv("INV-2", "2026-04", "p1"), inv("INV-3", "2026-03", "p2"), inv("CN-1", "2026-03", "p1", { kind: "credit_note", credits: "INV-1" })];
  it("filters by period and project, newest period first", () => {
    expect(filterInvoices(list, { period: "", project: "" }).map((i) => i.number)).toEqual(["INV-2", "CN-1", "INV-1", "INV-3"]);
    expect(filterInvoices(list, { period: "2026-03", project: "p1" }).map((i) => i.number)).toEqual(["CN-1", "INV-1"]);
  });
  it("reads the filter from the URL, dropping what is not a month", () => {
    expect(invoiceFilter(new URLSearchParams("period=2026-13&project=%20p1"))).toEqual({ period: "", project: "p1" });
    expect(filterSearch({ period: "2026-03", project: "a b" })).toBe("?period=2026-03&project=a+b");
    expect(filterSearch({ period: "", project: "" })).toBe("");
  });
  it("says what a credit note cancels and what a correction replaces", () => {
    expect(invoiceTitle(list[3] as InvoiceSummary)).toBe("Credit note (cancels INV-1)");
    expect(invoiceTitle(inv("INV-9", "2026-03", "p1", { corrects: "INV-1" }))).toBe("Invoice (corrects INV-1)");
  });
});

describe("money as text", () => {
  it("keeps every digit of the decimal", () => {
    expect(money("1234567.891", "EUR")).toBe("1,234,567.891 EUR");
    expect(money("-0.5", "CHF")).toBe("-0.50 CHF");
    expect(money("100", null)).toBe("100.00");
    expect(money("12.3400", "EUR")).toBe("12.34 EUR");
    expect(money(null, "EUR")).toBe("–");
    expect(totalsText({ EUR: "4.7", CHF: "3.2" })).toBe("4.70 EUR; 3.20 CHF");
  });
});

describe("cloud spend against measured hours", () => {
  it("joins the two reports by month, provider and account", () => {
    const cost = [
      { month: "2026-03-01", provider: "aws", account: "a1", currency: "USD", billed_cost: 30, effective_cost: 27 },
      { month: "2026-03-01", provider: "aws", account: "a2", currency: "USD", billed_cost: 10, effective_cost: 10 },
    ];
    const hours = [
      { month: "2026-03-01", provider: "aws", account: "a1", measured_hours: 12 },
      { month: "2026-03-01", provider: "gcp", account: "g1", measured_hours: 5 },
    ];
    const rows = spendRows(cost, hours);
    expect(rows.map((r) => [r.account, r.billed, r.measuredHours, r.perHour])).toEqual([
      ["a1", 30, 12, 2.5],
      ["a2", 10, null, null],
      ["g1", null, 5, null],
    ]);
  });
});
