// The portal's one way to the API: same origin, the session cookie, problems turned into words.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | null = null;

export function setCsrf(token: string | null): void {
  csrf = token;
}

interface Problem {
  title?: string;
  detail?: string;
  errors?: { field?: string | null; message?: string }[];
}

async function failure(response: Response): Promise<ApiError> {
  let words = `${response.status} ${response.statusText}`.trim();
  try {
    const body = (await response.json()) as Problem;
    if (body && (body.detail || body.title)) words = [body.title, body.detail].filter(Boolean).join(": ");
    // A validation refusal names each field it refused: say those too.
    const fields = Array.isArray(body?.errors) ? body.errors.map((e) => [e.field, e.message].filter(Boolean).join(": ")).filter(Boolean) : [];
    if (fields.length) words += ` (${fields.slice(0, 5).join("; ")})`;
  } catch {
    // not JSON: the status line says what there is to say
  }
  if (response.status === 401) words = `You are not signed in (${words}).`;
  else if (response.status === 403) words = `Not allowed: ${words}`;
  return new ApiError(response.status, words);
}

export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.method && init.method !== "GET" && csrf) headers.set("X-CSRF-Token", csrf);
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers, credentials: "same-origin" });
  } catch (error) {
    throw new ApiError(0, `The server could not be reached (${String(error)}).`);
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path, { headers: { Accept: "application/json" } })).json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const response = await request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  return (await response.json()) as T;
}

/** A write with a JSON body (POST, PUT) or none (DELETE); the answer's JSON, or null for 204. */
export async function sendJson<T>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T | null> {
  const init: RequestInit = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json", Accept: "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await request(path, init);
  return response.status === 204 ? null : ((await response.json()) as T);
}

export interface Grant {
  grant_id: string;
  role: string;
  scope: string;
}

export interface Me {
  person: { person_id: string; name: string; email: string };
  grants: Grant[];
  via: string;
  csrf_token: string | null;
}

export interface IngestCount {
  site: string;
  day: string;
  kind: string;
  accepted: number;
  duplicates: number;
  rejected: number;
}

/** Whether the server offers sign-in through an identity provider (its public sign-in config says so). */
export async function hasIdentityProvider(): Promise<boolean> {
  try {
    const config = await getJson<{ methods?: unknown }>("/v1/auth/config");
    return Array.isArray(config.methods) && config.methods.includes("oidc");
  } catch {
    return false;
  }
}
