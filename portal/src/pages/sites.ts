// Site management: a site's registry (benchmark intervals, application rules, VO mapping) and its
// API keys. Every change is the API's call with its rules and audit; a refusal is shown in words.
import { ApiError, type Me, getJson, sendJson } from "../api";
import { sitePath } from "../admin/nav";
import {
  type ApplicationRule,
  BENCHMARK_TYPES,
  type Benchmark,
  type Built,
  type Fields,
  KEY_SCOPES,
  MATCH_FIELDS,
  type VoMapping,
  applicationBody,
  benchmarkBody,
  endBody,
  interval,
  keyResources,
  voMappingBody,
} from "../admin/registry";
import { errorBox, field, h, uid } from "../dom";

interface ApiKey {
  key_id: string;
  site: string;
  resources: string[];
  scopes: string[];
  created_at: string;
  revoked_at: string | null;
}

interface NewKey extends ApiKey {
  key: string;
}

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

function input(name: string, attrs: Record<string, string | boolean> = {}): HTMLInputElement {
  return h("input", { name, id: uid(name), ...attrs });
}

function select(name: string, options: readonly string[]): HTMLSelectElement {
  return h("select", { name, id: uid(name) }, options.map((o) => h("option", { value: o }, o)));
}

function values(form: HTMLFormElement): Fields {
  const out: Fields = {};
  for (const el of Array.from(form.elements)) {
    if (el instanceof HTMLInputElement && el.type === "checkbox") out[el.name] = el.checked;
    else if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) out[el.name] = el.value;
  }
  return out;
}

/** A form whose submit builds a body (refusing it in words), sends it, then reloads the section. */
function entryForm(
  legend: string,
  controls: HTMLElement[],
  build: (f: Fields) => Built,
  send: (body: Record<string, unknown>) => Promise<unknown>,
  done: () => void,
): HTMLElement {
  const says = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "entry-form", "aria-label": legend, novalidate: true }, h("fieldset", {}, h("legend", {}, legend), h("div", { class: "form-grid" }, controls), h("button", { type: "submit" }, legend)), says);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const built = build(values(form));
    if (!built.ok) {
      says.replaceChildren(errorBox(built.errors.join(" ")));
      return;
    }
    says.replaceChildren(h("p", { class: "status" }, "Saving…"));
    send(built.body)
      .then(() => {
        form.reset();
        says.replaceChildren(h("p", { class: "status", role: "status" }, "Saved."));
        done();
      })
      .catch((error: unknown) => says.replaceChildren(errorBox(words(error))));
  });
  return form;
}

/** A button that asks once more, in the page, before it acts. */
function confirmButton(label: string, question: string, act: () => Promise<void>, says: HTMLElement): HTMLElement {
  const box = h("span", { class: "confirm" });
  const start = h("button", { type: "button" }, label);
  const reset = (): void => {
    box.replaceChildren(start);
  };
  start.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "danger" }, `Yes, ${label.toLowerCase()}`);
    const no = h("button", { type: "button" }, "Cancel");
    no.addEventListener("click", () => {
      reset();
      start.focus();
    });
    yes.addEventListener("click", () => {
      yes.setAttribute("disabled", "");
      act().catch((error: unknown) => {
        says.replaceChildren(errorBox(words(error)));
        reset();
      });
    });
    box.replaceChildren(h("span", { role: "alert" }, question), " ", yes, " ", no);
    yes.focus();
  });
  reset();
  return box;
}

function section(id: string, title: string, intro: string): { el: HTMLElement; body: HTMLElement; says: HTMLElement } {
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "status" }, "Loading…"));
  const says = h("div", { "aria-live": "polite" });
  const el = h("section", { class: "card admin-section", "data-section": id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), h("p", { class: "hint" }, intro), says, body);
  return { el, body, says };
}

async function loadInto(body: HTMLElement, says: HTMLElement, draw: () => Promise<HTMLElement[]>): Promise<void> {
  body.setAttribute("aria-busy", "true");
  try {
    body.replaceChildren(...(await draw()));
  } catch (error) {
    body.replaceChildren();
    says.replaceChildren(errorBox(words(error)));
  } finally {
    body.setAttribute("aria-busy", "false");
  }
}

const reg = (kind: string, id?: string): string => `/v1/registry/${kind}${id ? `/${encodeURIComponent(id)}` : ""}`;

function benchmarks(site: string): HTMLElement {
  const { el, body, says } = section("benchmarks", "Benchmarks", "The benchmark per core of each resource over validity intervals (the end day is exclusive). Intervals of one resource and benchmark may not overlap: end one before adding the next.");
  const load = (): void => {
    void loadInto(body, says, async () => {
      const entries = (await getJson<Benchmark[]>(reg("resources"))).filter((e) => e.site === site);
      entries.sort((a, b) => (a.resource === b.resource ? a.valid_from.localeCompare(b.valid_from) : a.resource.localeCompare(b.resource)));
      const rows = entries.map((e) => {
        const action = e.valid_to ? h("span", { class: "hint" }, "ended") : endControl(e);
        return h("tr", { "data-entry": e.entry_id }, h("th", { scope: "row" }, e.resource), h("td", {}, e.benchmark_type), h("td", { class: "num" }, String(e.benchmark_per_core)), h("td", {}, interval(e.valid_from, e.valid_to)), h("td", { class: "num" }, e.cores ?? "–"), h("td", {}, e.note ?? ""), h("td", {}, action));
      });
      return [rows.length ? table("Benchmark intervals", ["resource", "benchmark", "per core", "valid", "cores", "note", ""], rows) : h("p", { class: "empty" }, "No benchmark is registered for this site.")];
    });
  };
  const endControl = (e: Benchmark): HTMLElement => {
    const day = input("end", { type: "date", required: true });
    const label = `End ${e.resource} ${e.benchmark_type} on`;
    const form = h("form", { class: "inline", novalidate: true }, h("label", { for: day.id, class: "visually-hidden" }, label), day, h("button", { type: "submit", "aria-label": `End the ${e.resource} ${e.benchmark_type} interval` }, "End"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const built = endBody(e, day.value);
      if (!built.ok) {
        says.replaceChildren(errorBox(built.errors.join(" ")));
        return;
      }
      sendJson("PUT", reg("resources", e.entry_id), built.body)
        .then(() => {
          says.replaceChildren(h("p", { class: "status", role: "status" }, `The ${e.resource} interval now ends on ${day.value}.`));
          load();
        })
        .catch((error: unknown) => says.replaceChildren(errorBox(words(error))));
    });
    return form;
  };
  el.append(
    entryForm(
      "Add a benchmark interval",
      [
        field("Resource", input("resource", { required: true, autocomplete: "off" })),
        field("Benchmark", select("benchmark_type", BENCHMARK_TYPES)),
        field("Per core", input("benchmark_per_core", { inputmode: "decimal", required: true })),
        field("Valid from (day)", input("valid_from", { type: "date", required: true })),
        field("Valid to (day, exclusive)", input("valid_to", { type: "date" }), "empty: open"),
        field("Cores", input("cores", { inputmode: "numeric" }), "optional"),
        field("Note", input("note")),
      ],
      (f) => benchmarkBody(site, f),
      (b) => sendJson("POST", reg("resources"), b),
      load,
    ),
  );
  load();
  return el;
}

function removeButton(what: string, path: string, says: HTMLElement, load: () => void): HTMLElement {
  return confirmButton("Remove", `Remove ${what}?`, async () => {
    await sendJson("DELETE", path);
    says.replaceChildren(h("p", { class: "status", role: "status" }, `Removed ${what}.`));
    load();
  }, says);
}

function applications(site: string): HTMLElement {
  const { el, body, says } = section("applications", "Application rules", "Which application a job ran, from its queue, project or job name (the highest priority rule that matches wins); a commercial application is flagged as such in reports.");
  const load = (): void => {
    void loadInto(body, says, async () => {
      const entries = (await getJson<ApplicationRule[]>(reg("applications"))).filter((e) => e.site === site);
      const rows = entries.map((e) => h("tr", { "data-entry": e.entry_id }, h("th", { scope: "row" }, e.application), h("td", {}, e.commercial ? "commercial" : "–"), h("td", {}, e.queue ?? ""), h("td", {}, e.project ?? ""), h("td", {}, e.job_name_pattern ?? ""), h("td", { class: "num" }, e.priority), h("td", {}, removeButton(`the rule for ${e.application}`, reg("applications", e.entry_id), says, load))));
      return [rows.length ? table("Application rules", ["application", "commercial", "queue", "project", "job name", "priority", ""], rows) : h("p", { class: "empty" }, "No application rule for this site.")];
    });
  };
  const commercial = input("commercial", { type: "checkbox" });
  el.append(
    entryForm(
      "Add an application rule",
      [
        field("Application", input("application", { required: true })),
        field("Queue", input("queue"), "jobs of this queue"),
        field("Project", input("project")),
        field("Job name pattern", input("job_name_pattern"), "glob, e.g. vasp_*"),
        field("Priority", input("priority", { inputmode: "numeric", placeholder: "100" })),
        h("div", { class: "field check" }, h("label", { for: commercial.id }, commercial, " Commercial application")),
      ],
      (f) => applicationBody(site, f),
      (b) => sendJson("POST", reg("applications"), b),
      load,
    ),
  );
  load();
  return el;
}

function voMapping(site: string): HTMLElement {
  const { el, body, says } = section("vo-mapping", "VO mapping", "The VO of jobs that carry none, from their project (account) or local group.");
  const load = (): void => {
    void loadInto(body, says, async () => {
      const entries = (await getJson<VoMapping[]>(reg("vo_mapping"))).filter((e) => e.site === site);
      const rows = entries.map((e) => h("tr", { "data-entry": e.entry_id }, h("th", { scope: "row" }, e.match_field), h("td", {}, e.match_value), h("td", {}, e.vo), h("td", {}, e.note ?? ""), h("td", {}, removeButton(`the mapping of ${e.match_value}`, reg("vo_mapping", e.entry_id), says, load))));
      return [rows.length ? table("VO mapping", ["match on", "value", "VO", "note", ""], rows) : h("p", { class: "empty" }, "No VO mapping for this site.")];
    });
  };
  el.append(
    entryForm(
      "Add a VO mapping",
      [field("Match on", select("match_field", MATCH_FIELDS)), field("Value", input("match_value", { required: true })), field("VO", input("vo", { required: true })), field("Note", input("note"))],
      (f) => voMappingBody(site, f),
      (b) => sendJson("POST", reg("vo_mapping"), b),
      load,
    ),
  );
  load();
  return el;
}

/** The one sight of a new key: it is in this element only, and gone once dismissed. */
function secretBox(created: NewKey, says: HTMLElement): HTMLElement {
  const code = h("code", { class: "secret", "data-secret": true }, created.key);
  const copied = h("span", { "aria-live": "polite", class: "status" });
  const copy = h("button", { type: "button" }, "Copy the key");
  copy.addEventListener("click", () => {
    navigator.clipboard
      .writeText(created.key)
      .then(() => {
        copied.textContent = "Copied.";
      })
      .catch(() => {
        getSelection()?.selectAllChildren(code);
        copied.textContent = "Select and copy it by hand: the clipboard is not available here.";
      });
  });
  const done = h("button", { type: "button" }, "I have stored it: hide the key");
  const box = h(
    "div",
    { class: "card once", role: "alert", "data-new-key": created.key_id },
    h("h3", {}, `New key ${created.key_id}`),
    h("p", { class: "warn-text" }, "Copy this key now. It is shown this once: Tally keeps only its hash and cannot show it again. Lost, it can only be revoked and replaced."),
    h("p", {}, code),
    h("p", {}, copy, " ", done, " ", copied),
  );
  done.addEventListener("click", () => {
    box.remove();
    says.replaceChildren(h("p", { class: "status", role: "status" }, `Key ${created.key_id} is hidden; it works until it is revoked.`));
  });
  return box;
}

function keys(site: string, refused: (error: unknown) => void): HTMLElement {
  const { el, body, says } = section("keys", "API keys", "Keys let the site's agents post records and read the site's reports and registry. Creating and revoking keys is audited.");
  const path = `/v1/sites/${encodeURIComponent(site)}/keys`;
  const shown = h("div", {});
  const load = (): void => {
    void loadInto(body, says, async () => {
      let list: ApiKey[];
      try {
        list = await getJson<ApiKey[]>(path);
      } catch (error) {
        refused(error);
        throw error;
      }
      const rows = list.map((k) =>
        h(
          "tr",
          { "data-key": k.key_id, class: k.revoked_at ? "revoked" : "" },
          h("th", { scope: "row" }, h("code", {}, k.key_id)),
          h("td", {}, k.resources.length ? k.resources.join(", ") : "every resource"),
          h("td", {}, k.scopes.join(", ")),
          h("td", {}, k.created_at.slice(0, 19).replace("T", " ")),
          h("td", {}, k.revoked_at ? `revoked ${k.revoked_at.slice(0, 19).replace("T", " ")}` : "active"),
          h(
            "td",
            {},
            k.revoked_at
              ? ""
              : confirmButton("Revoke", `Revoke key ${k.key_id}? Agents using it are refused at once.`, async () => {
                  await sendJson("DELETE", `${path}/${k.key_id}`);
                  says.replaceChildren(h("p", { class: "status", role: "status" }, `Key ${k.key_id} is revoked.`));
                  load();
                }, says),
          ),
        ),
      );
      return [rows.length ? table("API keys", ["key id", "resources", "scopes", "created (UTC)", "state", ""], rows) : h("p", { class: "empty" }, "This site has no key yet.")];
    });
  };
  const scopeBoxes = KEY_SCOPES.map((s) => {
    const box = input(`scope:${s}`, { type: "checkbox", value: s });
    return h("label", { for: box.id }, box, ` ${s}`);
  });
  const form = entryForm(
    "Create a key",
    [
      field("Resources", input("resources", { autocomplete: "off" }), "comma-separated; empty: every resource of the site"),
      h("fieldset", { class: "checks" }, h("legend", {}, "Scopes (none ticked: the agent defaults)"), scopeBoxes),
    ],
    (f) => {
      const scopes = KEY_SCOPES.filter((s) => f[`scope:${s}`] === true);
      const body: Record<string, unknown> = { resources: keyResources(String(f.resources ?? "")) };
      if (scopes.length) body.scopes = scopes;
      return { ok: true, body };
    },
    async (b) => {
      const created = await sendJson<NewKey>("POST", path, b);
      if (created) shown.replaceChildren(secretBox(created, says));
    },
    load,
  );
  el.append(shown, form);
  load();
  return el;
}

/** /sites: the sites a person manages, or for an admin a way to open any site. */
export function sitesIndex(main: HTMLElement, me: Me, go: (path: string) => void): void {
  const managed = [...new Set(me.grants.filter((g) => g.role === "site_manager").map((g) => g.scope))];
  const name = input("site", { required: true, autocomplete: "off" });
  const form = h("form", { class: "inline" }, field("Site name", name), h("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (name.value.trim()) go(sitePath(name.value.trim()));
  });
  const known = h("ul", { class: "views" });
  main.replaceChildren(h("h1", {}, "Site management"), h("ul", { class: "views" }, managed.map((s) => h("li", {}, h("a", { href: sitePath(s), "data-nav": true }, `Site ${s}`)))), h("section", { class: "card" }, h("h2", {}, "Open a site"), form, h("h3", {}, "Sites with registry entries"), known));
  getJson<Benchmark[]>(reg("resources"))
    .then((entries) => {
      const sites = [...new Set(entries.map((e) => e.site))].sort();
      known.replaceChildren(...sites.map((s) => h("li", {}, h("a", { href: sitePath(s), "data-nav": true }, s))));
      if (!sites.length) known.replaceChildren(h("li", { class: "empty" }, "None yet."));
    })
    .catch((error: unknown) => known.replaceChildren(errorBox(words(error))));
}

/** /sites/{site}: the site's registry and keys. */
export function sitePage(main: HTMLElement, site: string): void {
  const banner = h("div", { "aria-live": "assertive" });
  const refused = (error: unknown): void => {
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
      banner.replaceChildren(errorBox(`You cannot manage site ${site}. ${error.message}`));
    }
  };
  main.replaceChildren(
    h("h1", {}, `Site ${site}: registry and keys`),
    banner,
    h("div", { class: "admin-grid" }, benchmarks(site), applications(site), voMapping(site), keys(site, refused)),
  );
}
