import { describe, expect, it } from "vitest";
import { invoiceOfPath, invoicePath, lineUnit, standing } from "./invoice";

const doc = (number: string, kind: "invoice" | "credit_note" = "invoice", credits: string | null = null, corrects: string | null = null) => ({ number, kind, credits, corrects });

describe("an invoice's page", () => {
  it("round-trips its number through the path", () => {
    expect(invoiceOfPath(invoicePath("TALLY 2026/7"))).toBe("TALLY 2026/7");
    expect(invoicePath("A/B")).toBe("/invoices/A%2FB");
    expect(invoiceOfPath("/invoices")).toBeNull();
    expect(invoiceOfPath("/invoices/%E0%A4%A")).toBeNull();
    expect(invoiceOfPath("/invoices/a/b")).toBeNull();
  });
  it("says where it stands among the invoices", () => {
    const all = [doc("I-1"), doc("C-1", "credit_note", "I-1"), doc("I-2", "invoice", null, "I-1"), doc("I-3")];
    expect(standing(all[0]!, all)).toEqual({ status: "credited", creditNote: "C-1", replacement: "I-2", cancels: null, corrects: null });
    expect(standing(all[1]!, all)).toEqual({ status: "credit note", creditNote: null, replacement: null, cancels: "I-1", corrects: null });
    expect(standing(all[2]!, all)).toEqual({ status: "issued", creditNote: null, replacement: null, cancels: null, corrects: "I-1" });
    expect(standing(all[3]!, all).status).toBe("issued");
  });
  it("names a line's unit with what prices it", () => {
    expect(lineUnit({ unit: "core_hour", benchmark: "HS06", gpu_model: null })).toBe("normalised core-hour (HS06)");
    expect(lineUnit({ unit: "gpu_hour", benchmark: null, gpu_model: "A100" })).toBe("GPU-hour (A100)");
    expect(lineUnit({ unit: "new_unit", benchmark: null, gpu_model: null })).toBe("new_unit");
  });
});
