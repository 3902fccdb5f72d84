// Signing in. Locally: the one-time link `make run` prints (`#signin=<code>`),
// traded for an API token kept in this tab (sessionStorage), or a pasted
// token. On AWS: Cognito's managed login, authorization code + PKCE
// (oauth4webapi, loaded only there); the tokens stay in memory, refreshed
// before they expire; sign-out ends the Cognito session too.

const KEY = 'jarvis.token';

/** How the app signs in, from config.json's `auth`. */
export async function makeAuth(config) {
  const mode = (config.auth && config.auth.mode) || 'local';
  return mode === 'cognito' ? cognito(config) : local(config);
}

function local(config) {
  let listeners = [];
  const auth = {
    mode: 'local',
    async token() { return sessionStorage.getItem(KEY); },
    signedIn() { return !!sessionStorage.getItem(KEY); },
    onChange(f) { listeners.push(f); },
    changed() { listeners.forEach((f) => f()); },
    signedOut() { sessionStorage.removeItem(KEY); auth.changed(); },
    signOut() { auth.signedOut(); },
    /** Trades the link's code for a token. */
    async redeem(code) {
      const base = (config.api_url || '').replace(/\/$/, '');
      const r = await fetch(`${base}/auth/local`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ code }),
      });
      if (!r.ok) throw new Error('This sign-in link was used already or has expired. Restart `make run` for a new one, or paste your API token.');
      const body = await r.json();
      sessionStorage.setItem(KEY, body.token);
      auth.changed();
    },
    /** A token pasted by hand (the one the first start printed). */
    async useToken(token) {
      sessionStorage.setItem(KEY, token.trim());
      auth.changed();
    },
    /** At start: a link's code in the address, taken and removed from it. */
    async fromLocation() {
      const m = /[#&]signin=([0-9a-f]+)/.exec(window.location.hash);
      if (!m) return;
      history.replaceState(null, '', window.location.pathname + window.location.search);
      await auth.redeem(m[1]);
    },
  };
  return auth;
}

async function cognito(config) {
  const oauth = await import('../vendor/oauth4webapi.mjs');
  const c = config.auth;
  // The endpoints come with config.json (written at deploy), so signing in
  // needs no discovery request, and the CSP no connection to the issuer.
  const as = c.token_endpoint
    ? { issuer: c.issuer, authorization_endpoint: c.authorization_endpoint, token_endpoint: c.token_endpoint }
    : await (async () => {
      const issuer = new URL(c.issuer);
      return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer));
    })();
  const client = { client_id: c.client_id };
  // Plain http only to this machine (a sign-in server under test); anything
  // else must be https, as oauth4webapi enforces.
  const endpoint = new URL(as.token_endpoint);
  const loopback = endpoint.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(endpoint.hostname);
  const options = loopback ? { [oauth.allowInsecureRequests]: true } : undefined;
  const clientAuth = oauth.None();
  let tokens = null; // {access, refresh, expires}
  let refreshing = null; // the refresh under way
  let listeners = [];
  const keep = (r) => {
    tokens = {
      access: r.access_token,
      refresh: r.refresh_token || (tokens && tokens.refresh),
      expires: Date.now() + (r.expires_in || 3600) * 1000,
    };
  };
  const auth = {
    mode: 'cognito',
    signedIn() { return !!tokens; },
    onChange(f) { listeners.push(f); },
    changed() { listeners.forEach((f) => f()); },
    async token() {
      if (!tokens) return null;
      if (Date.now() > tokens.expires - 60_000 && tokens.refresh) {
        // One refresh however many calls want a token at that moment.
        refreshing = refreshing || (async () => {
          try {
            const r = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh, options);
            keep(await oauth.processRefreshTokenResponse(as, client, r));
          } catch {
            tokens = null;
            auth.changed();
          } finally {
            refreshing = null;
          }
        })();
        await refreshing;
      }
      return tokens ? tokens.access : null;
    },
    signedOut() { tokens = null; auth.changed(); },
    async signIn() {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      sessionStorage.setItem('jarvis.pkce', JSON.stringify({ verifier, state }));
      const url = new URL(as.authorization_endpoint);
      url.searchParams.set('client_id', c.client_id);
      url.searchParams.set('redirect_uri', c.redirect_uri);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', c.scope || 'openid email');
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
      url.searchParams.set('code_challenge_method', 'S256');
      url.searchParams.set('state', state);
      window.location.assign(url.href);
    },
    async signOut() {
      // The refresh token is revoked (it would otherwise mint access tokens
      // for 30 days), then managed login ends its own session.
      const refresh = tokens && tokens.refresh;
      tokens = null;
      if (refresh && c.revocation_endpoint) {
        try {
          await oauth.revocationRequest({ ...as, revocation_endpoint: c.revocation_endpoint }, client, clientAuth, refresh, options);
        } catch { /* signing out goes on: the session ends at /logout */ }
      }
      const url = new URL(`${c.domain.replace(/\/$/, '')}/logout`);
      url.searchParams.set('client_id', c.client_id);
      url.searchParams.set('logout_uri', c.logout_uri);
      window.location.assign(url.href);
    },
    /** At start: the code Cognito sent back, traded for tokens. */
    async fromLocation() {
      const here = new URL(window.location.href);
      if (!here.searchParams.has('code')) return;
      const saved = JSON.parse(sessionStorage.getItem('jarvis.pkce') || '{}');
      sessionStorage.removeItem('jarvis.pkce');
      history.replaceState(null, '', here.pathname + here.hash);
      const params = oauth.validateAuthResponse(as, client, here, saved.state);
      const r = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, c.redirect_uri, saved.verifier, options);
      keep(await oauth.processAuthorizationCodeResponse(as, client, r));
      auth.changed();
    },
  };
  return auth;
}
