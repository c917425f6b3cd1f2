// Invoices, findings and cloud spend as the finance pages show them. Money stays the API's exact
// decimal text: it is laid out here, never summed in the browser.
import type { ReportRow } from "../pivot";

export interface InvoiceSummary {
  number: string;
  kind: "invoice" | "credit_note";
  project: string;
  user: string | null;
  person_id: string | null;
  period: string;
  issue_date: string;
  totals: Record<string, string>;
  credits: string | null;
  corrects: string | null;
  sites: string[];
}

export interface InvoiceFilter {
  period: string; // YYYY-MM or ""
  project: string; // exact project or ""
}

export function invoiceFilter(search: URLSearchParams): InvoiceFilter {
  const period = search.get("period") ?? "";
  return { period: /^\d{4}-(0[1-9]|1[0-2])$/.test(period) ? period : "", project: (search.get("project") ?? "").trim() };
}

export function filterSearch(filter: InvoiceFilter): string {
  const q = new URLSearchParams();
  if (filter.period) q.set("period", filter.period);
  if (filter.project) q.set("project", filter.project);
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** Newest period first, then by number; only those the filter names. */
export function filterInvoices(list: InvoiceSummary[], filter: InvoiceFilter): InvoiceSummary[] {
  return list
    .filter((i) => (!filter.period || i.period === filter.period) && (!filter.project || i.project === filter.project))
    .sort((a, b) => (a.period === b.period ? a.number.localeCompare(b.number) : a.period < b.period ? 1 : -1));
}

export function invoiceTitle(invoice: Pick<InvoiceSummary, "kind" | "credits" | "corrects">): string {
  if (invoice.kind === "credit_note") return invoice.credits ? `Credit note (cancels ${invoice.credits})` : "Credit note";
  return invoice.corrects ? `Invoice (corrects ${invoice.corrects})` : "Invoice";
}

/** A decimal amount as text with thousands separators and at least two places, exactly. */
export function money(amount: string | null, currency: string | null): string {
  if (amount === null || amount === undefined) return "–";
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(amount.trim());
  if (!match) return `${amount} ${currency ?? ""}`.trim();
  const [, sign = "", whole = "0", fraction = ""] = match;
  const places = fraction.replace(/0+$/, "").padEnd(2, "0");
  const grouped = whole.replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+$)/g, ",");
  return `${sign}${grouped}.${places}${currency ? ` ${currency}` : ""}`;
}

export function totalsText(totals: Record<string, string>): string {
  const entries = Object.entries(totals);
  return entries.length ? entries.map(([currency, amount]) => money(amount, currency)).join("; ") : "–";
}

export interface SpendRow {
  month: string;
  provider: string;
  account: string;
  currency: string | null;
  billed: number | null;
  effective: number | null;
  measuredHours: number | null;
  perHour: number | null; // billed cost per measured instance hour
}

function key(row: ReportRow): string {
  return [row.month, row.provider, row.account].map((v) => String(v ?? "")).join("\u0000");
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The cloud_cost report (month, provider, account, currency) beside the vms report's measured
 * hours (month, provider, account): one row per bill currency, hours repeated, and the hours no
 * bill covers as rows of their own. */
export function spendRows(cost: ReportRow[], hours: ReportRow[]): SpendRow[] {
  const measured = new Map<string, number | null>();
  for (const row of hours) measured.set(key(row), num(row.measured_hours));
  const billed = new Set<string>();
  const out: SpendRow[] = cost.map((row) => {
    billed.add(key(row));
    const h = measured.get(key(row)) ?? null;
    const b = num(row.billed_cost);
    return {
      month: String(row.month ?? ""),
      provider: String(row.provider ?? ""),
      account: String(row.account ?? ""),
      currency: row.currency === null || row.currency === undefined ? null : String(row.currency),
      billed: b,
      effective: num(row.effective_cost),
      measuredHours: h,
      perHour: b !== null && h ? b / h : null,
    };
  });
  for (const row of hours) {
    if (billed.has(key(row))) continue;
    out.push({
      month: String(row.month ?? ""),
      provider: String(row.provider ?? ""),
      account: String(row.account ?? ""),
      currency: null,
      billed: null,
      effective: null,
      measuredHours: num(row.measured_hours),
      perHour: null,
    });
  }
  return out.sort((a, b) => (a.month === b.month ? `${a.provider}/${a.account}`.localeCompare(`${b.provider}/${b.account}`) : a.month < b.month ? 1 : -1));
}
