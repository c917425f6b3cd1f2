// The explorer: kind, time range, rows and columns, metrics, filters, sort and top-N; the answer as
// a chart and a table from the reports API. The state lives in the URL, so a link reopens the view
// and back/forward step through the changes.
import { KINDS, KIND_NAMES, MAX_LIMIT, groupable, isTime, kindInfo, label } from "../catalog";
import { errorBox, field, h } from "../dom";
import { cellRecords } from "../drill";
import { type Shown, exportBar, failure, fetchReport, render } from "../results";
import { saveView } from "../views";
import { CHARTS, type Chart, type ExplorerState, decode, encode, hasNonTimeDimension, withKind } from "../state";
import { PRESETS, type Preset, rangeProblem, resolve } from "../timerange";

export interface Explorer {
  show(search: string): void; // the URL changed (first visit, back/forward)
}

export function explorerPage(main: HTMLElement, today: Date, push: (search: string) => void): Explorer {
  let state: ExplorerState;
  let shown: Shown | null = null;
  let sequence = 0;
  const notes = h("div", { class: "notes", "aria-live": "polite" });
  const controls = h("form", { class: "controls", "aria-label": "Explorer controls" });
  const status = h("p", { class: "status", "aria-live": "polite" });
  const results = h("div", { class: "results", "aria-busy": "false" });
  controls.addEventListener("submit", (e) => e.preventDefault());
  const title = h("input", { id: "x-save-title", type: "text", maxlength: 200, required: true, placeholder: "a title" });
  const saved = h("span", { class: "export-status", "aria-live": "polite" });
  const saveForm = h("form", { class: "save", "aria-label": "Save this view" }, field("Save this view as", title), h("button", { type: "submit" }, "Save view"), saved);
  saveForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = title.value.trim();
    if (!text) {
      saved.textContent = "Give the view a title first.";
      return;
    }
    saveView(text, state)
      .then((view) => {
        saved.textContent = `Saved as “${view.title}” (find it on your home page).`;
      })
      .catch((error: unknown) => {
        saved.textContent = `Not saved: ${error instanceof Error ? error.message : String(error)}`;
      });
  });
  main.replaceChildren(
    h("h1", {}, "Explorer"),
    notes,
    h("div", { class: "explorer" }, controls, h("section", { class: "answer", "aria-label": "Answer" }, status, exportBar(() => shown, () => state, today), results, saveForm)),
  );

  const change = (next: ExplorerState): void => {
    next.page = next.page === state.page && !samePage(next, state) ? 1 : next.page;
    state = next;
    notes.replaceChildren();
    push(encode(state));
    drawControls();
    void load();
  };

  async function load(): Promise<void> {
    const mine = ++sequence;
    const problem = rangeProblem(state.range);
    if (problem) {
      failure(results, new Error(problem));
      return;
    }
    results.setAttribute("aria-busy", "true");
    status.textContent = "Loading…";
    const started = performance.now();
    try {
      const report = await fetchReport(state, today);
      if (mine !== sequence) return; // a newer change is on its way
      const { from, to } = resolve(state.range, today);
      const view = state;
      shown = render(results, state, report, {
        compact: false,
        onPage: (n) => change({ ...state, page: n }),
        drill: (row, column) => {
          const q = cellRecords(view, [...view.rows, ...view.cols], [...row.values, ...column.values], today);
          return q ? `/records?${q.toString()}` : null;
        },
      });
      status.textContent = `${report.rows.length.toLocaleString("en")} rows, ${from} to ${to} (to exclusive), in ${Math.round(performance.now() - started)} ms.`;
    } catch (error) {
      if (mine !== sequence) return;
      shown = null;
      status.textContent = "";
      failure(results, error);
    } finally {
      if (mine === sequence) results.setAttribute("aria-busy", "false");
    }
  }

  function drawControls(): void {
    const focused = document.activeElement?.id;
    const info = kindInfo(state.kind);
    const kind = h("select", { id: "x-kind" }, KIND_NAMES.map((k) => h("option", { value: k, selected: k === state.kind }, KINDS[k]!.label)));
    kind.addEventListener("change", () => change(withKind(state, kind.value)));

    const custom = !("preset" in state.range);
    const range = h(
      "select",
      { id: "x-range" },
      Object.entries(PRESETS).map(([v, t]) => h("option", { value: v, selected: !custom && "preset" in state.range && state.range.preset === v }, t)),
      h("option", { value: "custom", selected: custom }, "Custom…"),
    );
    const span = resolve(state.range, today);
    const from = h("input", { id: "x-from", type: "date", value: span.from, required: true });
    const to = h("input", { id: "x-to", type: "date", value: span.to, required: true });
    range.addEventListener("change", () => change({ ...state, range: range.value === "custom" ? span : { preset: range.value as Preset } }));
    const setCustom = (): void => {
      const next = { from: from.value, to: to.value };
      const problem = rangeProblem(next);
      if (problem) notes.replaceChildren(errorBox(problem));
      else change({ ...state, range: next });
    };
    from.addEventListener("change", setCustom);
    to.addEventListener("change", setCustom);

    const dims = groupable(state.kind);
    const axis = (which: "rows" | "cols", title: string): HTMLElement =>
      h(
        "fieldset",
        { class: "checks" },
        h("legend", {}, title),
        dims.map((d) => {
          const id = `x-${which}-${d}`;
          const box = h("input", { type: "checkbox", id, checked: state[which].includes(d) });
          box.addEventListener("change", () => {
            const other = which === "rows" ? "cols" : "rows";
            let chosen = box.checked ? [...state[which], d] : state[which].filter((x) => x !== d);
            let rest = state[other].filter((x) => x !== d);
            if (box.checked && isTime(d)) {
              chosen = chosen.filter((x) => x === d || !isTime(x)); // one time dimension at most
              rest = rest.filter((x) => !isTime(x));
            }
            const next = { ...state, [which]: chosen, [other]: rest } as ExplorerState;
            if (!hasNonTimeDimension(next)) next.top = null;
            if (next.sort && ![...next.rows, ...next.cols, ...next.metrics].includes(next.sort.split(":")[0]!)) next.sort = null;
            change(next);
          });
          return h("label", { for: id }, box, label(d));
        }),
      );

    const metrics = h(
      "fieldset",
      { class: "checks" },
      h("legend", {}, "Metrics"),
      Object.entries(info.metrics).map(([m, spec]) => {
        const id = `x-metric-${m}`;
        const box = h("input", { type: "checkbox", id, checked: state.metrics.includes(m) });
        box.addEventListener("change", () => {
          const chosen = box.checked ? [...state.metrics, m] : state.metrics.filter((x) => x !== m);
          if (chosen.length === 0) {
            box.checked = true;
            notes.replaceChildren(errorBox("Keep at least one metric."));
            return;
          }
          const next = { ...state, metrics: chosen };
          if (next.sort && !box.checked && next.sort.startsWith(`${m}:`)) next.sort = null;
          change(next);
        });
        return h("label", { for: id, title: spec.description }, box, label(m));
      }),
    );

    const filterDim = h("select", { id: "x-filter-dim" }, info.dimensions.map((d) => h("option", { value: d }, label(d))));
    const filterValue = h("input", { id: "x-filter-value", type: "text", maxlength: 1024, placeholder: "exact value" });
    const addFilter = (): void => {
      const value = filterValue.value.trim();
      if (!value) return;
      const values = state.filters[filterDim.value] ?? [];
      if (!values.includes(value)) change({ ...state, filters: { ...state.filters, [filterDim.value]: [...values, value] } });
    };
    filterValue.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        addFilter();
      }
    });
    const active = Object.entries(state.filters).flatMap(([d, values]) =>
      values.map((v, i) =>
        h(
          "li",
          {},
          `${label(d)} = ${v} `,
          h(
            "button",
            {
              type: "button",
              id: `x-unfilter-${d}-${i}`,
              "aria-label": `Remove filter ${label(d)} = ${v}`,
              onclick: () => {
                const left = values.filter((x) => x !== v);
                const filters = { ...state.filters };
                if (left.length) filters[d] = left;
                else delete filters[d];
                change({ ...state, filters });
              },
            },
            "×",
          ),
        ),
      ),
    );
    const filters = h(
      "fieldset",
      { class: "filters" },
      h("legend", {}, "Filters"),
      field("Dimension", filterDim),
      field("Value", filterValue),
      h("button", { type: "button", id: "x-filter-add", onclick: addFilter }, "Add filter"),
      active.length ? h("ul", { class: "chips" }, active) : h("p", { class: "hint" }, "No filter: all the usage you may see."),
    );

    const sortable = [...state.metrics, ...state.rows, ...state.cols].filter((n) => !(state.top !== null && isTime(n)));
    const sort = h(
      "select",
      { id: "x-sort" },
      h("option", { value: "" }, "As the server orders"),
      sortable.flatMap((n) =>
        (["desc", "asc"] as const).map((dir) =>
          h("option", { value: `${n}:${dir}`, selected: state.sort === `${n}:${dir}` }, `${label(n)} ${dir === "desc" ? "↓ largest first" : "↑ smallest first"}`),
        ),
      ),
    );
    sort.addEventListener("change", () => change({ ...state, sort: sort.value || null }));
    const top = h("input", {
      id: "x-top",
      type: "number",
      min: 1,
      max: MAX_LIMIT,
      step: 1,
      value: state.top ?? "",
      placeholder: "all",
      disabled: !hasNonTimeDimension(state),
    });
    top.addEventListener("change", () => {
      const n = top.value === "" ? null : Number(top.value);
      if (n !== null && !(Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT)) {
        notes.replaceChildren(errorBox(`Top-N takes a whole number from 1 to ${MAX_LIMIT}.`));
        return;
      }
      change({ ...state, top: n });
    });
    const chart = h("select", { id: "x-chart" }, Object.entries(CHARTS).map(([v, t]) => h("option", { value: v, selected: v === state.chart }, t)));
    chart.addEventListener("change", () => change({ ...state, chart: chart.value as Chart }));

    const parts: (HTMLElement | null)[] = [
      field("Record kind", kind),
      field("Time range", range),
      custom ? h("div", { class: "pair" }, field("From (inclusive)", from), field("To (exclusive)", to)) : null,
      axis("rows", "Rows"),
      axis("cols", "Columns"),
      metrics,
      filters,
      field("Sort", sort),
      field("Top-N (the rest as “other”)", top, hasNonTimeDimension(state) ? undefined : "needs a dimension that is not a time"),
      field("Chart", chart),
    ];
    controls.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
    if (focused) document.getElementById(focused)?.focus();
  }

  return {
    show(search: string): void {
      const decoded = decode(search);
      state = decoded.state;
      notes.replaceChildren(
        ...(decoded.dropped.length ? [errorBox(`This link asked for what this view cannot show, left out: ${decoded.dropped.join("; ")}.`)] : []),
      );
      drawControls();
      void load();
    },
  };
}

function samePage(a: ExplorerState, b: ExplorerState): boolean {
  return encode({ ...a, page: 1 }) === encode({ ...b, page: 1 });
}
