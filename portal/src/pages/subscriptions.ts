// A person's scheduled reports: their list (with the last delivery and the next due day), a form
// that subscribes one of their saved views, deletion with confirmation, and one subscription's
// deliveries at /subscriptions/{id}. The API decides; its refusals are shown in words.
import { ApiError, getJson, sendJson } from "../api";
import { CADENCES, CHANNELS, FORMATS, FORMAT_LABELS, type Subscription, channelText, checkSubscription, lastDelivery, nextDue } from "../admin/subscriptions";
import { errorBox, field, h, uid } from "../dom";
import { type SavedView, listViews } from "../views";

const words = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function subscriptionPath(id: string): string {
  return `/subscriptions/${encodeURIComponent(id)}`;
}

/** The subscription id a /subscriptions/{id} path names, or null. */
export function subscriptionOfPath(path: string): string | null {
  const match = /^\/subscriptions\/([^/]+)$/.exec(path);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

function select(name: string, options: readonly string[], label: (v: string) => string, chosen: string): HTMLSelectElement {
  return h("select", { name, id: uid(name) }, options.map((v) => h("option", { value: v, selected: v === chosen }, label(v))));
}

function form(views: SavedView[], preset: string, done: () => void): HTMLElement {
  const view = h("select", { name: "view", id: uid("view"), required: true }, h("option", { value: "" }, "Choose a saved view"), views.map((v) => h("option", { value: v.name, selected: v.name === preset }, v.title)));
  const cadence = select("cadence", CADENCES, (v) => v, "monthly");
  const format = select("format", FORMATS, (v) => FORMAT_LABELS[v as keyof typeof FORMAT_LABELS], "csv");
  const channel = select("channel", CHANNELS, (v) => (v === "email" ? "email (to your address)" : "webhook"), "email");
  const url = h("input", { name: "url", id: uid("url"), type: "url", autocomplete: "off", inputmode: "url" });
  const urlField = field("Webhook URL", url, "Only webhook delivery posts to a URL; the server allows only the addresses its operator listed.");
  const said = h("div", { class: "form-status", "aria-live": "polite" });
  const problems = new Map<string, HTMLElement>();
  const fields: [string, HTMLElement, HTMLElement][] = [
    ["view", view, field("Saved view", view)],
    ["cadence", cadence, field("Cadence", cadence, "weekly: Monday to Sunday; monthly: a calendar month (UTC)")],
    ["format", format, field("Format", format)],
    ["channel", channel, field("Delivery", channel)],
    ["url", url, urlField],
  ];
  for (const [name, control, wrap] of fields) {
    const note = h("small", { class: "field-error", id: uid(`${name}-error`) });
    problems.set(name, note);
    wrap.append(note);
    control.setAttribute("aria-describedby", note.id);
  }
  const showUrl = (): void => {
    urlField.hidden = channel.value !== "webhook";
  };
  channel.addEventListener("change", showUrl);
  showUrl();
  const submit = h("button", { type: "submit" }, "Subscribe");
  const el = h("form", { class: "form-grid subscribe", "aria-label": "Subscribe a saved view", novalidate: true }, fields.map(([, , wrap]) => wrap), h("div", { class: "submit" }, submit), said);
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const [name, control] of fields) {
      problems.get(name)!.textContent = "";
      control.removeAttribute("aria-invalid");
    }
    const checked = checkSubscription({ view: view.value, cadence: cadence.value, format: format.value, channel: channel.value, url: url.value }, views.map((v) => v.name));
    if ("errors" in checked) {
      for (const [name, message] of Object.entries(checked.errors)) {
        problems.get(name)!.textContent = message;
        fields.find(([n]) => n === name)?.[1].setAttribute("aria-invalid", "true");
      }
      said.textContent = "Not subscribed: see the fields marked.";
      (fields.find(([n]) => n in checked.errors)?.[1] as HTMLElement | undefined)?.focus();
      return;
    }
    submit.disabled = true;
    said.textContent = "Subscribing…";
    sendJson<Subscription>("POST", "/v1/me/subscriptions", checked.body)
      .then(() => {
        said.textContent = "Subscribed.";
        done();
      })
      .catch((error: unknown) => {
        said.replaceChildren(errorBox(`Not subscribed: ${words(error)}`));
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  return el;
}

function row(s: Subscription, titles: Map<string, string>, now: Date, reload: () => void, notice: HTMLElement): HTMLElement {
  const name = titles.get(s.view) ?? s.view;
  const remove = h("button", { type: "button", "aria-label": `Delete the subscription to ${name} (${s.cadence}, ${FORMAT_LABELS[s.format]})` }, "Delete");
  const cells = h("td", { class: "actions" }, remove);
  remove.addEventListener("click", () => {
    // Confirmation in the page (not a browser dialog): keyboard and screen readers reach it.
    const yes = h("button", { type: "button", class: "danger" }, "Yes, delete");
    const no = h("button", { type: "button" }, "Keep it");
    cells.replaceChildren(h("span", { role: "alert" }, "Delete this subscription? "), yes, " ", no);
    yes.focus();
    no.addEventListener("click", () => {
      cells.replaceChildren(remove);
      remove.focus();
    });
    yes.addEventListener("click", () => {
      yes.disabled = true;
      sendJson("DELETE", `/v1/me/subscriptions/${encodeURIComponent(s.id)}`)
        .then(() => {
          notice.textContent = `Deleted the subscription to ${name}.`;
          reload();
        })
        .catch((error: unknown) => cells.replaceChildren(errorBox(`Not deleted: ${words(error)}`), remove));
    });
  });
  const head = ["view", "cadence", "format", "delivery", "last delivery", "next due (UTC)", ""];
  const tds = [
    h("th", { scope: "row" }, h("a", { href: subscriptionPath(s.id), "data-nav": true }, name)),
    h("td", {}, s.cadence),
    h("td", {}, FORMAT_LABELS[s.format]),
    h("td", {}, channelText(s)),
    h("td", { "data-last": true }, lastDelivery(s.deliveries)),
    h("td", {}, nextDue(s.cadence, now)),
    cells,
  ];
  tds.forEach((c, i) => head[i] && c.setAttribute("data-label", head[i]));
  return h("tr", { "data-subscription": s.id }, tds);
}

export function subscriptionsPage(main: HTMLElement, search: URLSearchParams, now: Date): void {
  const list = h("div", { class: "money-results", "aria-busy": "true", "aria-label": "My subscriptions" }, h("p", { class: "status" }, "Loading…"));
  const formArea = h("section", { class: "card", "aria-label": "New subscription" }, h("h2", {}, "Subscribe a saved view"), h("p", { class: "status" }, "Loading your saved views…"));
  const notice = h("p", { class: "status", "aria-live": "polite" });
  main.replaceChildren(h("h1", {}, "My report subscriptions"), h("p", { class: "hint" }, "A saved explorer view delivered after each week or month, within your grants, as CSV, Excel or PDF."), notice, list, formArea);
  const preset = search.get("view") ?? "";
  let views: SavedView[] = [];
  const load = (): void => {
    list.setAttribute("aria-busy", "true");
    void (async () => {
      try {
        const subs = await getJson<Subscription[]>("/v1/me/subscriptions");
        // Each one's deliveries, for the last one: a person keeps a few subscriptions at most.
        const full = await Promise.all(subs.map((s) => getJson<Subscription>(`/v1/me/subscriptions/${encodeURIComponent(s.id)}`).catch(() => s)));
        const titles = new Map(views.map((v) => [v.name, v.title]));
        if (!full.length) list.replaceChildren(h("p", { class: "empty" }, "You have no subscription yet."));
        else {
          const head = ["view", "cadence", "format", "delivery", "last delivery", "next due (UTC)", ""];
          list.replaceChildren(
            h(
              "div",
              { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Subscriptions" },
              h("table", { class: "stack" }, h("thead", {}, h("tr", {}, head.map((n) => h("th", { scope: "col" }, n)))), h("tbody", {}, full.map((s) => row(s, titles, now, load, notice)))),
            ),
          );
        }
      } catch (error) {
        list.replaceChildren(errorBox(words(error)));
      } finally {
        list.setAttribute("aria-busy", "false");
      }
    })();
  };
  listViews()
    .then((found) => {
      views = found;
      formArea.replaceChildren(
        h("h2", {}, "Subscribe a saved view"),
        found.length ? form(found, preset, load) : h("p", { class: "hint" }, "You have no saved view: save one in the explorer first."),
      );
    })
    .catch((error: unknown) => formArea.replaceChildren(h("h2", {}, "Subscribe a saved view"), errorBox(`Your saved views cannot be read: ${words(error)}`)))
    .finally(load);
}

export function subscriptionPage(main: HTMLElement, id: string, now: Date): void {
  const body = h("div", { class: "money-results", "aria-busy": "true", "aria-label": "Subscription" }, h("p", { class: "status" }, "Loading…"));
  main.replaceChildren(h("p", {}, h("a", { href: "/subscriptions", "data-nav": true }, "My subscriptions")), h("h1", {}, "Subscription"), body);
  void (async () => {
    try {
      const s = await getJson<Subscription>(`/v1/me/subscriptions/${encodeURIComponent(id)}`);
      const deliveries = s.deliveries ?? [];
      body.replaceChildren(
        h(
          "dl",
          { class: "facts" },
          [
            ["Saved view", s.view],
            ["Cadence", s.cadence],
            ["Format", FORMAT_LABELS[s.format]],
            ["Delivery", channelText(s)],
            ["Created", s.created_at.slice(0, 16).replace("T", " ") + " UTC"],
            ["Next due", nextDue(s.cadence, now)],
          ].flatMap(([t, v]) => [h("dt", {}, t as string), h("dd", {}, v as string)]),
        ),
        h("h2", {}, "Deliveries"),
        deliveries.length
          ? h(
              "ul",
              { class: "deliveries" },
              deliveries.map((d) => h("li", {}, `${d.period}: ${d.state === "given_up" ? "given up" : d.state} after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}${d.rows === null ? "" : `, ${d.rows} rows`}${d.detail ? ` (${d.detail})` : ""}`)),
            )
          : h("p", { class: "empty" }, "Nothing delivered yet."),
      );
    } catch (error) {
      const said = error instanceof ApiError && error.status === 404 ? `You have no subscription ${id} (${words(error)}).` : words(error);
      body.replaceChildren(errorBox(said));
    } finally {
      body.setAttribute("aria-busy", "false");
    }
  })();
}
