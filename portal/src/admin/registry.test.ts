import { describe, expect, it } from "vitest";
import { applicationBody, benchmarkBody, dayStart, endBody, interval, keyResources, voMappingBody } from "./registry";

describe("benchmark intervals", () => {
  it("builds the API's body from the form", () => {
    expect(benchmarkBody("S", { resource: " c1 ", benchmark_type: "HS06", benchmark_per_core: "11.5", valid_from: "2026-01-01", valid_to: "", cores: "64", note: "" })).toEqual({
      ok: true,
      body: { site: "S", resource: "c1", benchmark_type: "HS06", benchmark_per_core: 11.5, valid_from: "2026-01-01T00:00:00Z", valid_to: null, cores: 64 },
    });
  });
  it("names every mistake at once", () => {
    const built = benchmarkBody("S", { resource: "", benchmark_type: "SPEC", benchmark_per_core: "0", valid_from: "2026-02-30", cores: "1.5" });
    expect(built.ok).toBe(false);
    if (!built.ok) expect(built.errors).toHaveLength(5);
  });
  it("refuses an interval that ends before it starts", () => {
    const built = benchmarkBody("S", { resource: "c", benchmark_type: "HS06", benchmark_per_core: "10", valid_from: "2026-03-01", valid_to: "2026-03-01" });
    expect(built).toEqual({ ok: false, errors: ["The interval must end after it starts."] });
  });
  it("rejects a number or NaN as a per-core figure", () => {
    for (const v of ["NaN", "abc", "10001", "-1"]) expect(benchmarkBody("S", { resource: "c", benchmark_type: "HS06", benchmark_per_core: v, valid_from: "2026-03-01" }).ok).toBe(false);
  });
  it("ends an open interval, keeping the rest of the entry", () => {
    const entry = { entry_id: "e1", site: "S", resource: "c1", benchmark_type: "HS06", benchmark_per_core: 10, valid_from: "2026-01-01T00:00:00Z", valid_to: null, cores: null, note: null, updated_at: "2026-01-02T00:00:00Z" };
    expect(endBody(entry, "2026-04-01")).toEqual({
      ok: true,
      body: { site: "S", resource: "c1", benchmark_type: "HS06", benchmark_per_core: 10, valid_from: "2026-01-01T00:00:00Z", valid_to: "2026-04-01T00:00:00Z" },
    });
    expect(endBody(entry, "2025-12-31").ok).toBe(false);
    expect(endBody(entry, "soon").ok).toBe(false);
  });
  it("reads only real days", () => {
    expect(dayStart("2024-02-29")).toBe("2024-02-29T00:00:00Z");
    expect(dayStart("2025-02-29")).toBeNull();
    expect(dayStart("2025-1-1")).toBeNull();
    expect(interval("2026-01-01T00:00:00Z", null)).toBe("from 2026-01-01, open");
    expect(interval("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")).toBe("2026-01-01 to 2026-02-01 (end exclusive)");
  });
});

describe("application rules and VO mapping", () => {
  it("maps a queue to an application, commercial flag included", () => {
    expect(applicationBody("S", { application: "VASP", queue: "vasp", commercial: true, priority: "" })).toEqual({
      ok: true,
      body: { site: "S", application: "VASP", commercial: true, priority: 100, queue: "vasp" },
    });
  });
  it("needs a criterion and a sane priority", () => {
    expect(applicationBody("S", { application: "X", priority: "5" })).toEqual({ ok: false, errors: ["A rule needs a queue, a project or a job name pattern to match."] });
    expect(applicationBody("S", { application: "X", queue: "q", priority: "-1" }).ok).toBe(false);
  });
  it("maps a project to a VO", () => {
    expect(voMappingBody("S", { match_field: "project", match_value: "p1", vo: "atlas" })).toEqual({ ok: true, body: { site: "S", match_field: "project", match_value: "p1", vo: "atlas" } });
    expect(voMappingBody("S", { match_field: "user", match_value: "", vo: "" })).toEqual({ ok: false, errors: ["Match on the project or the local group.", "Give the value to match.", "Name the VO."] });
  });
  it("reads a key's resources from a list", () => {
    expect(keyResources(" c1, c2 c1,,")).toEqual(["c1", "c2"]);
    expect(keyResources("")).toEqual([]);
  });
});
