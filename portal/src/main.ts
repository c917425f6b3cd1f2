// The portal's entry: who is signed in, then the page the URL names. Links marked data-nav and
// back/forward move between pages without reloading.
import "./style.css";
import { ApiError, type Me, getJson, request, setCsrf } from "./api";
import { invoiceOfPath } from "./admin/invoice";
import { adminLinks, siteOfPath } from "./admin/nav";
import { errorBox, h } from "./dom";
import { type Explorer, explorerPage } from "./pages/explorer";
import { homePage } from "./pages/home";
import { loginPage } from "./pages/login";
import { recordPage, recordsPage } from "./pages/records";

const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
let me: Me | null = null;
let explorer: Explorer | null = null;
const MONEY_PAGES = new Map([
  ["/invoices", "invoices"],
  ["/findings", "findings"],
  ["/cloud", "cloud spend"],
  ["/alerts", "alerts"],
]);

function go(path: string): void {
  history.pushState(null, "", path);
  void route();
}

function drawNav(): void {
  if (!me) {
    nav.replaceChildren();
    return;
  }
  const signOut = h("button", { type: "button", class: "link" }, "Sign out");
  signOut.addEventListener("click", () => {
    void request("/v1/auth/logout", { method: "POST" })
      .catch(() => undefined)
      .then(() => {
        me = null;
        setCsrf(null);
        go("/login");
      });
  });
  const here = location.pathname;
  nav.replaceChildren(
    h("a", { href: "/", "data-nav": true, "aria-current": here === "/" ? "page" : null }, "Home"),
    h("a", { href: "/explore", "data-nav": true, "aria-current": here === "/explore" ? "page" : null }, "Explorer"),
    // Only what the person's grants reach (the API still decides every answer).
    ...adminLinks(me.grants).map((link) =>
      h("a", { href: link.href, "data-nav": true, "aria-current": here === link.href ? "page" : null }, link.label),
    ),
    h("a", { href: "/v1/docs" }, "API"),
    h("span", { class: "who" }, me.person.name),
    signOut,
  );
}

async function whoAmI(): Promise<Me | null> {
  try {
    const found = await getJson<Me>("/v1/me");
    setCsrf(found.csrf_token);
    return found;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return null;
    throw error;
  }
}

async function route(): Promise<void> {
  const path = location.pathname;
  if (path !== "/explore") explorer = null;
  if (path === "/login") {
    me = null;
    drawNav();
    loginPage(main, go, (signed) => {
      me = signed;
    });
    return;
  }
  if (!me) {
    try {
      me = await whoAmI();
    } catch (error) {
      main.replaceChildren(errorBox(`The portal cannot reach the API: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    if (!me) {
      const next = path === "/" ? "" : `?next=${encodeURIComponent(path + location.search)}`;
      history.replaceState(null, "", `/login${next}`);
      void route();
      return;
    }
  }
  drawNav();
  const today = new Date();
  if (path === "/") {
    document.title = "Tally: home";
    homePage(main, me, today);
  } else if (path === "/explore") {
    document.title = "Tally: explorer";
    explorer ??= explorerPage(main, today, (search) => {
      if (`?${search}` !== location.search) history.pushState(null, "", `/explore?${search}`);
    });
    explorer.show(location.search);
  } else if (path === "/records") {
    document.title = "Tally: records";
    recordsPage(main, new URLSearchParams(location.search));
  } else if (path === "/record") {
    document.title = "Tally: record";
    recordPage(main, new URLSearchParams(location.search));
  } else if (path === "/sites" || siteOfPath(path) !== null) {
    // Site management and the money pages load on demand: their code is not in the first bundle.
    const site = siteOfPath(path);
    const pages = await import("./pages/sites");
    document.title = site ? `Tally: site ${site}` : "Tally: sites";
    if (site) pages.sitePage(main, site);
    else pages.sitesIndex(main, me, go);
  } else if (invoiceOfPath(path) !== null) {
    const number = invoiceOfPath(path) as string;
    const pages = await import("./pages/invoice");
    document.title = `Tally: invoice ${number}`;
    pages.invoicePage(main, number);
  } else if (path === "/subscriptions" || path.startsWith("/subscriptions/")) {
    const pages = await import("./pages/subscriptions");
    const id = pages.subscriptionOfPath(path);
    document.title = id ? "Tally: subscription" : "Tally: subscriptions";
    if (id) pages.subscriptionPage(main, id, today);
    else pages.subscriptionsPage(main, new URLSearchParams(location.search), today);
  } else if (path === "/allocations") {
    const pages = await import("./pages/allocations");
    document.title = "Tally: allocations";
    pages.allocationsPage(main);
  } else if (MONEY_PAGES.has(path)) {
    const pages = await import("./pages/finance");
    const search = new URLSearchParams(location.search);
    document.title = `Tally: ${MONEY_PAGES.get(path)}`;
    if (path === "/invoices") pages.invoicesPage(main, search, go);
    else if (path === "/findings") pages.findingsPage(main, search, go);
    else if (path === "/cloud") pages.cloudPage(main, today);
    else pages.alertsPage(main, search, go);
  } else {
    document.title = "Tally: not found";
    main.replaceChildren(h("h1", {}, "No such page"), h("p", {}, "This address is not a page of the portal. "), h("a", { href: "/", "data-nav": true }, "Go to your home page"));
  }
}

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("a[data-nav]") : null;
  if (!(target instanceof HTMLAnchorElement) || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  go(target.getAttribute("href") ?? "/");
});
window.addEventListener("popstate", () => void route());
window.addEventListener("unhandledrejection", (event) => {
  main.prepend(errorBox(`Something went wrong: ${String(event.reason)}`));
});
void route();
