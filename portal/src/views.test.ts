import { describe, expect, it } from "vitest";
import { decode } from "./state";
import { type SavedView, stored, viewHref, viewName } from "./views";

describe("saved views", () => {
  it("names a view from its title within the server's rule", () => {
    expect(viewName("ATLAS by site, monthly")).toBe("atlas-by-site-monthly");
    expect(viewName("  Ünïcode — Straße ")).toBe("unicode-stra-e");
    expect(viewName("___")).toBe("view");
    expect(viewName("x".repeat(100))).toHaveLength(64);
    for (const title of ["a", "--b--", "v1.2_final", "日本語"]) expect(viewName(title)).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
  });

  it("stores the explorer's URL (page 1) and reopens it, checked again on the way back", () => {
    const { state } = decode("kind=vms&range=last-month&rows=provider&cols=month&metrics=vcpu_hours&page=4");
    const saved = stored(state);
    expect(saved).toEqual({
      version: 1,
      page: "explore",
      search: "kind=vms&range=last-month&rows=provider&cols=month&metrics=vcpu_hours&chart=bar",
    });
    const view: SavedView = { name: "n", title: "t", state: { ...saved }, created_at: "", updated_at: "" };
    expect(viewHref(view)).toBe(`/explore?${saved.search}`);
    expect(viewHref({ ...view, state: { ...saved, search: "kind=jobs&metrics=nope" } })).toBe(
      "/explore?kind=jobs&range=last-6-months&rows=month&cols=site&metrics=jobs&chart=bar",
    );
    expect(viewHref({ ...view, state: { something: "else" } })).toBeNull();
  });
});
