// A standards-compliant OpenID provider for Tally's tests, on loopback only.
//
// Started by tests/support/openid_provider.py as `node provider.mjs CONFIG.json`; prints
// `listening <port>` once it accepts connections. The configuration (written by the fixture) holds
// the issuer and port, the signing keys (private JWKs; the first of each type signs), the clients,
// one resource server (API audience) per client, and the test accounts with their passwords.
// Key rotation is a restart with another key set on the same port: the issuer stays the same.
//
// With `tls` ({cert, key}: PEM file paths) it serves https, as a provider in production does.
//
// Login and consent are plain HTML forms served under /interaction/<uid>, so a test drives the
// whole authorisation code flow with an HTTP client (no browser).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;
// client_id -> { resource, scope, access_token_ttl }
const resources = config.resources;

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>`
    + `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function findResource(clientId, indicator) {
  const entry = resources[clientId];
  if (!entry || (indicator !== undefined && entry.resource !== indicator)) return undefined;
  return entry;
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: config.cookie_keys },
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // As most providers do (Keycloak, Check-in, Cognito): the ID token of the code flow carries the
  // claims of the granted scopes, not only `sub`.
  conformIdTokenClaims: false,
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: true, name: account.name };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out', `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>Signed out.</p>');
      },
    },
    // Access tokens are JWTs for the client's API (its audience), as a resource server sees them.
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client) {
        return findResource(client.clientId)?.resource;
      },
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(_ctx, indicator, client) {
        const entry = findResource(client.clientId, indicator);
        if (!entry) throw new Provider.errors.InvalidTarget();
        return {
          scope: entry.scope,
          audience: entry.resource,
          accessTokenTTL: entry.access_token_ttl,
          accessTokenFormat: 'jwt',
        };
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    IdToken: 600,
    Session: 3600,
    Interaction: 600,
    Grant: 3600,
    RefreshToken: 3600,
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre>${escapeHtml(JSON.stringify(out))}</pre>`);
  },
});

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function loginPage(uid, message) {
  return page('Sign in', `${message ? `<p class="error">${escapeHtml(message)}</p>` : ''}`
    + `<form method="post" action="/interaction/${uid}/login">`
    + '<input name="login" autocomplete="username"><input name="password" type="password">'
    + '<button type="submit">Sign in</button></form>');
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Error', '<p>interaction mismatch</p>'));
  const { prompt, params, session } = details;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return send(res, 200, loginPage(uid));
    return send(res, 200, page('Consent', `<p>${escapeHtml(params.client_id)} asks for ${escapeHtml(params.scope)}</p>`
      + `<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>`));
  }
  if (req.method !== 'POST') return send(res, 405, page('Error', '<p>method not allowed</p>'));

  if (action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    const account = accounts[form.get('login')];
    if (!account || account.password !== form.get('password')) {
      return send(res, 401, loginPage(uid, 'Wrong login or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Error', `<p>unexpected ${escapeHtml(action)} at ${escapeHtml(prompt.name)}</p>`));
}

const callback = provider.callback();
const handler = (req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/.exec(new URL(req.url, config.issuer).pathname);
  if (!match) return callback(req, res);
  return interaction(req, res, match[1], match[2]).catch((err) => {
    send(res, 400, page('Error', `<pre>${escapeHtml(err.message)}</pre>`));
  });
};
const server = config.tls
  ? createTlsServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }, handler)
  : createServer(handler);
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
// The fixture ends the provider with SIGTERM; close at once (keep-alive connections included).
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
