// Sign-in: a local account's email and password, or the identity provider when the server has one.
import { ApiError, type Me, getJson, hasIdentityProvider, postJson, setCsrf } from "../api";
import { errorBox, field, h } from "../dom";

export function safeNext(next: string | null): string {
  // Only a path of this portal: never another origin, never the API.
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/v1")) return "/";
  return next;
}

export function loginPage(main: HTMLElement, go: (path: string) => void, onSignedIn: (me: Me) => void): void {
  const next = safeNext(new URLSearchParams(location.search).get("next"));
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const message = h("div", { "aria-live": "assertive" });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "login", "aria-label": "Sign in with a local account" },
    field("Email", email),
    field("Password", password),
    submit,
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.replaceChildren();
    void (async () => {
      try {
        const signed = await postJson<{ csrf_token: string }>("/v1/auth/login", { email: email.value, password: password.value });
        setCsrf(signed.csrf_token);
        const me = await getJson<Me>("/v1/me");
        onSignedIn(me);
        go(next);
      } catch (error) {
        const words =
          error instanceof ApiError && error.status === 401
            ? "The email or password is not right."
            : error instanceof Error
              ? error.message
              : String(error);
        message.replaceChildren(errorBox(`Could not sign in: ${words}`));
        submit.disabled = false;
        password.focus();
      }
    })();
  });
  const provider = h("div", { class: "idp" });
  main.replaceChildren(h("section", { class: "card narrow" }, h("h1", {}, "Sign in to Tally"), form, provider));
  email.focus();
  void hasIdentityProvider().then((yes) => {
    if (yes) {
      provider.append(
        h("p", {}, "or"),
        h("a", { class: "button", href: `/v1/auth/oidc/login?return_to=${encodeURIComponent(next)}` }, "Sign in with your identity provider"),
      );
    }
  });
}
