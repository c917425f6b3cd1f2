import { describe, expect, it } from "vitest";
import { sections } from "./roles";
import { reportQuery } from "./state";

const TODAY = new Date(Date.UTC(2026, 11, 2));
const grant = (role: string, scope: string) => ({ grant_id: `g-${role}`, role, scope });

describe("energy and efficiency on the home pages", () => {
  // Six months, this one included: July to December 2026.
  it("shows a user their own energy and emissions by month", () => {
    const [user] = sections([grant("user", "p-7")], "p-7", TODAY);
    const panel = user!.panels.find((p) => p.id === "user-energy");
    expect(panel?.type === "report" && reportQuery(panel.state, TODAY).toString()).toBe(
      "from=2026-07-01&to=2027-01-01&group_by=month&metrics=energy_kwh%2Cco2e_kg&user=p-7",
    );
  });

  it("shows a project manager the project's energy and its CPU and memory efficiency", () => {
    const [project] = sections([grant("project_manager", "cfd")], "p-1", TODAY);
    const energy = project!.panels.find((p) => p.id === "project-energy");
    const efficiency = project!.panels.find((p) => p.id === "project-efficiency");
    expect(energy?.type === "report" && reportQuery(energy.state, TODAY).toString()).toBe(
      "from=2026-07-01&to=2027-01-01&group_by=month&metrics=energy_kwh%2Cco2e_kg&project=cfd",
    );
    expect(efficiency?.type === "report" && reportQuery(efficiency.state, TODAY).toString()).toBe(
      "from=2026-07-01&to=2027-01-01&group_by=month&metrics=cpu_efficiency%2Cmemory_efficiency&project=cfd",
    );
  });

  it("leaves the VO manager's page as it was", () => {
    const [vo] = sections([grant("vo_manager", "atlas")], "p-1", TODAY);
    expect(vo!.panels.map((p) => p.id)).not.toContain("vo-energy");
  });
});
