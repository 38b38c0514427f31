// A real OpenID Connect provider (npm `oidc-provider`, a certified OP) for the portal's tests.
//
//   node provider.mjs <port|0> '<json config>'
//
// Config: {"client_id", "client_secret", "redirect_uris": [..], "post_logout_redirect_uris": [..],
//          "id_token_ttl_seconds": 300}
// Runs on Node 20 (oidc-provider warns "Unsupported runtime" there, but works) and Node 22+.
// Prints ONE JSON line on stdout once listening: {"issuer":"http://127.0.0.1:PORT"}, and exits
// when stdin closes, so a test process that dies never leaves the provider behind.
//
// Sign-in needs no UI: the interaction handler logs in the account named by the authorization
// request's `login_hint` (an email) and grants `openid email profile`. Accounts:
//   sub            = first 32 hex digits of sha256(lower-cased email)
//   email_verified = false for emails starting with "unverified", true otherwise
//   name           = the email's local part
//   emails starting with "userinfo-only" get no email/name claims in the ID token, only from
//   the userinfo endpoint.
//
// Test-only endpoints (the `/__test/` prefix is not part of any OpenID Connect API):
//   POST /__test/faults  {"corrupt_id_token_signature": true}  next token response: one
//                                                              byte of the signature flipped
//                        {"id_token_audience": "someone"}      next token response: `aud`
//                                                              replaced, re-signed validly
//                        {"rotate_signing_key": true}          from now on: ID tokens signed
//                                                              with a new key, published in
//                                                              the JWKS beside the old one
//                        {"userinfo_subject": "someone"}       next userinfo response: `sub`
//                                                              replaced
//   GET  /__test/stats   how often discovery, jwks, token and userinfo were requested
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import { CompactSign, exportJWK, generateKeyPair, importJWK } from 'jose';
import Provider, { interactionPolicy } from 'oidc-provider';

const port = Number.parseInt(process.argv[2] ?? '0', 10);
const config = JSON.parse(process.argv[3] ?? '{}');
for (const key of ['client_id', 'client_secret', 'redirect_uris']) {
  if (!config[key]) {
    console.error(`provider.mjs: config is missing "${key}"`);
    process.exit(2);
  }
}

const subjectFor = (email) => createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 32);

/** sub -> email of everyone who signed in (findAccount only receives the sub). */
const accounts = new Map();

function claimsFor(email, use) {
  const sub = subjectFor(email);
  if (use === 'id_token' && email.startsWith('userinfo-only')) return { sub };
  return {
    sub,
    email,
    email_verified: !email.startsWith('unverified'),
    name: email.split('@')[0],
  };
}

async function signingKey(kid) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, use: 'sig', alg: 'RS256' };
}
const publicPart = ({ kty, n, e, kid, use, alg }) => ({ kty, n, e, kid, use, alg });

const primaryKey = await signingKey('primary');
const rotatedKey = await signingKey('rotated');

// A login prompt is also needed when the hinted account differs from the signed-in one, so a
// test can sign in as someone else with the same cookie jar.
const policy = interactionPolicy.base();
policy.get('login').checks.add(
  new interactionPolicy.Check('login_hint_changed', 'another account was hinted', (ctx) => {
    const hint = ctx.oidc.params.login_hint;
    const current = ctx.oidc.session.accountId;
    return Boolean(hint && current && subjectFor(hint) !== current);
  }),
);

const server = createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: config.client_id,
      client_secret: config.client_secret,
      redirect_uris: config.redirect_uris,
      post_logout_redirect_uris: config.post_logout_redirect_uris ?? [],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    const email = accounts.get(sub);
    if (!email) return undefined;
    return { accountId: sub, claims: async (use) => claimsFor(email, use) };
  },
  jwks: { keys: [primaryKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  ttl: {
    IdToken: config.id_token_ttl_seconds ?? 300,
    AccessToken: 600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  async renderError(ctx, out) {
    ctx.type = 'text/plain';
    ctx.body = Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n');
  },
});

const faults = {};
let rotated = false;
const stats = { discovery: 0, jwks: 0, token: 0, userinfo: 0 };

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

async function resign(jwt, change) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url')));
  const key = rotated ? rotatedKey : primaryKey;
  const body = new TextEncoder().encode(JSON.stringify(change(payload)));
  return new CompactSign(body)
    .setProtectedHeader({ ...header, kid: key.kid })
    .sign(await importJWK(key, 'RS256'));
}

function corruptSignature(jwt) {
  const [header, payload, signature] = jwt.split('.');
  // The first character carries the top six bits of the first byte, so this always changes it.
  const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
  return `${header}.${payload}.${flipped}`;
}

// Test hooks around the provider's own endpoints.
provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/faults' && ctx.method === 'POST') {
    try {
      Object.assign(faults, await readJson(ctx.req));
    } catch {
      ctx.status = 400;
      ctx.body = { error: 'body must be a JSON object' };
      return;
    }
    if (faults.rotate_signing_key) {
      rotated = true;
      delete faults.rotate_signing_key;
    }
    ctx.body = { faults, rotated };
    return;
  }
  if (ctx.path === '/__test/stats') {
    ctx.body = stats;
    return;
  }

  await next();

  switch (ctx.path) {
    case '/.well-known/openid-configuration':
      stats.discovery += 1;
      break;
    case '/jwks':
      stats.jwks += 1;
      if (rotated && ctx.body?.keys) ctx.body = { keys: [...ctx.body.keys, publicPart(rotatedKey)] };
      break;
    case '/token': {
      stats.token += 1;
      let idToken = ctx.status === 200 ? ctx.body?.id_token : undefined;
      if (!idToken) break;
      if (rotated) idToken = await resign(idToken, (p) => p);
      if (faults.id_token_audience) {
        const aud = faults.id_token_audience;
        delete faults.id_token_audience;
        idToken = await resign(idToken, (p) => ({ ...p, aud }));
      }
      if (faults.corrupt_id_token_signature) {
        delete faults.corrupt_id_token_signature;
        idToken = corruptSignature(idToken);
      }
      ctx.body = { ...ctx.body, id_token: idToken };
      break;
    }
    case '/me':
      stats.userinfo += 1;
      if (faults.userinfo_subject && ctx.status === 200 && ctx.body?.sub) {
        ctx.body = { ...ctx.body, sub: faults.userinfo_subject };
        delete faults.userinfo_subject;
      }
      break;
    default:
  }
});

// Sign-in and consent without a UI.
provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/interaction/')) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  const email = params.login_hint;
  if (!email && !session?.accountId) {
    ctx.status = 400;
    ctx.type = 'text/plain';
    ctx.body = 'the test provider signs in the account named by login_hint; the request has none';
    return;
  }
  const accountId = email ? subjectFor(email) : session.accountId;
  if (email) accounts.set(accountId, email);

  const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const grant = existing?.accountId === accountId
    ? existing
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope('openid email profile');
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();

  const result = { consent: { grantId } };
  if (prompt.name === 'login' || email) result.login = { accountId };
  ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);

// The parent (crates/test-idp) holds our stdin; when it goes away, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
