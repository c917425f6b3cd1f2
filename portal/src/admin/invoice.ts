// One invoice as its page shows it: its lines, and where it stands among the invoices the person
// may read (credited by a credit note, replaced by a correction). Money stays the API's text.
import type { InvoiceSummary } from "./money";

export interface InvoiceLine {
  site: string;
  resource: string;
  unit: string;
  benchmark: string | null;
  gpu_model: string | null;
  tariff_id: string;
  currency: string;
  quantity: string;
  rate: string;
  amount: string;
  records: number;
}

export interface InvoiceDocument extends Omit<InvoiceSummary, "sites"> {
  issuer: string;
  period_start: string;
  period_end: string;
  issued_at: string;
  lines: InvoiceLine[];
}

const UNITS: Record<string, string> = {
  core_hour: "normalised core-hour",
  gpu_hour: "GPU-hour",
  vm_vcpu_hour: "VM vCPU-hour",
  vm_gb_hour: "VM GB-hour",
  storage_tb_month: "storage TB-month",
};

/** A line's unit in words, with the benchmark or GPU model that prices it. */
export function lineUnit(line: Pick<InvoiceLine, "unit" | "benchmark" | "gpu_model">): string {
  const detail = line.benchmark ?? line.gpu_model;
  return `${UNITS[line.unit] ?? line.unit}${detail ? ` (${detail})` : ""}`;
}

/** The invoice number a /invoices/{number} path names, or null. */
export function invoiceOfPath(path: string): string | null {
  const match = /^\/invoices\/([^/]+)$/.exec(path);
  if (!match?.[1]) return null;
  try {
    const number = decodeURIComponent(match[1]);
    return number.trim() ? number : null;
  } catch {
    return null;
  }
}

export function invoicePath(number: string): string {
  return `/invoices/${encodeURIComponent(number)}`;
}

export interface Standing {
  status: "issued" | "credited" | "credit note";
  creditNote: string | null; // the credit note that cancels it
  replacement: string | null; // the invoice that corrects it
  cancels: string | null; // a credit note: the invoice it cancels
  corrects: string | null; // a correction: the invoice it replaces
}

/** Where an invoice stands, from the list of invoices the person may read. */
export function standing(invoice: Pick<InvoiceSummary, "number" | "kind" | "credits" | "corrects">, all: Pick<InvoiceSummary, "number" | "kind" | "credits" | "corrects">[]): Standing {
  if (invoice.kind === "credit_note") return { status: "credit note", creditNote: null, replacement: null, cancels: invoice.credits, corrects: null };
  const note = all.find((i) => i.kind === "credit_note" && i.credits === invoice.number)?.number ?? null;
  const replacement = all.find((i) => i.kind === "invoice" && i.corrects === invoice.number)?.number ?? null;
  return { status: note ? "credited" : "issued", creditNote: note, replacement, cancels: null, corrects: invoice.corrects };
}
