// Saved views (GET/PUT/DELETE /v1/me/views): a person's named explorer URLs, kept by the server.
import { getJson, request } from "./api";
import { decode, encode, type ExplorerState } from "./state";

export interface SavedView {
  name: string;
  title: string;
  state: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/** What the portal stores: the explorer's query string, so a saved view is a shared link. */
export interface StoredState {
  version: 1;
  page: "explore";
  search: string;
}

/** A view's name from its title: letters, digits, '.', '_' and '-', starting with one of the first two. */
export function viewName(title: string): string {
  const slug = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .replace(/-+$/, "")
    .slice(0, 64)
    .replace(/-+$/, "");
  return slug || "view";
}

export function stored(state: ExplorerState): StoredState {
  return { version: 1, page: "explore", search: encode({ ...state, page: 1 }) };
}

/** The explorer URL of a saved view, or null when it is not one this portal saved. */
export function viewHref(view: SavedView): string | null {
  const s = view.state as Partial<StoredState>;
  if (s.version !== 1 || s.page !== "explore" || typeof s.search !== "string") return null;
  return `/explore?${encode(decode(s.search).state)}`;
}

export async function listViews(): Promise<SavedView[]> {
  return getJson<SavedView[]>("/v1/me/views");
}

export async function saveView(title: string, state: ExplorerState): Promise<SavedView> {
  const response = await request(`/v1/me/views/${encodeURIComponent(viewName(title))}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ title, state: stored(state) }),
  });
  return (await response.json()) as SavedView;
}

export async function deleteView(name: string): Promise<void> {
  await request(`/v1/me/views/${encodeURIComponent(name)}`, { method: "DELETE" });
}
