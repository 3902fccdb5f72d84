// The app: configuration and sign-in first, then the shell — navigation,
// the page the address names (`#/chat`, `#/documents`…), keyboard shortcuts,
// and one live connection for streamed answers and fired reminders.
import { html, render, Toasts, toast, Dialog, say, go } from './ui.js';
import { useEffect, useState, useCallback } from '../vendor/preact-hooks.mjs';
import { Api } from './api.js';
import { makeAuth } from './auth.js';
import { Icon } from './icons.js';
import { Chat } from './pages/chat.js';
import { Documents } from './pages/documents.js';
import { Search } from './pages/search.js';
import { Reminders, Tasks, Drafts } from './pages/lists.js';
import { Settings } from './pages/settings.js';

const PAGES = [
  { id: 'chat', label: 'Chat', icon: 'chat', key: 'c', Page: Chat },
  { id: 'documents', label: 'Documents', icon: 'doc', key: 'd', Page: Documents },
  { id: 'search', label: 'Search', icon: 'search', key: 's', Page: Search },
  { id: 'reminders', label: 'Reminders', icon: 'bell', key: 'r', Page: Reminders },
  { id: 'tasks', label: 'Tasks', icon: 'task', key: 't', Page: Tasks },
  { id: 'drafts', label: 'Drafts', icon: 'mail', key: 'e', Page: Drafts },
  { id: 'settings', label: 'Settings', icon: 'gear', key: ',', Page: Settings },
];

/** `#/page/rest?query` → {page, rest, query}. */
function parseRoute() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [path, q = ''] = raw.split('?');
  const [page, ...rest] = path.split('/');
  return {
    page: PAGES.some((p) => p.id === page) ? page : 'chat',
    rest: rest.map(decodeURIComponent),
    query: new URLSearchParams(q),
  };
}

/** One WebSocket for the whole app: chat turns' events and notifications. */
class Live {
  constructor(api) {
    this.api = api;
    this.handlers = new Set();
    this.socket = null;
    this.backoff = 500;
    this.closed = false;
    this.ready = null;
  }
  on(f) { this.handlers.add(f); return () => this.handlers.delete(f); }
  async connect() {
    if (this.closed) return;
    this.ready = new Promise(async (resolve) => {
      const ws = await this.api.socket();
      this.socket = ws;
      ws.onopen = () => { this.backoff = 500; resolve(ws); };
      ws.onmessage = (m) => {
        let e;
        try { e = JSON.parse(m.data); } catch { return; }
        this.handlers.forEach((f) => f(e));
      };
      ws.onclose = () => {
        this.socket = null;
        resolve(null);
        if (!this.closed) setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 15000);
      };
    });
    return this.ready;
  }
  async send(msg) {
    let ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) ws = await (this.ready || this.connect());
    if (!ws || ws.readyState !== WebSocket.OPEN) ws = await this.connect();
    if (!ws) throw new Error('The live connection to Jarvis is down; try again in a moment.');
    ws.send(JSON.stringify({ action: 'sendMessage', ...msg }));
  }
  close() { this.closed = true; if (this.socket) this.socket.close(); }
}

function SignIn({ auth }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try { await auth.useToken(token); } catch (err) { setError(say(err)); }
  };
  return html`<main class="signin">
    <div class="card stack">
      <div class="brand"><img src="icon.svg" alt="" /> Jarvis</div>
      <h1>Sign in</h1>
      ${auth.mode === 'cognito' ? html`
        <p>Sign in with your account.</p>
        <button class="btn primary" onClick=${() => auth.signIn()}>Sign in</button>` : html`
        <p>Open the link <code>make run</code> printed ("Open the app…"): it signs you in once.
          Or paste the API token it printed on its first start.</p>
        ${error && html`<p class="badge failed" role="alert">${error}</p>`}
        <form onSubmit=${submit} class="stack">
          <div>
            <label for="token">API token</label>
            <input id="token" type="password" autocomplete="off" value=${token} onInput=${(e) => setToken(e.target.value)} placeholder="jv_…" />
          </div>
          <button class="btn primary" type="submit" disabled=${!token.trim()}>Sign in</button>
        </form>`}
    </div>
  </main>`;
}

function Shortcuts({ open, onClose }) {
  return html`<${Dialog} open=${open} onClose=${onClose} title="Keyboard shortcuts" labelledBy="keys-title"
    footer=${html`<button class="btn" onClick=${onClose}>Close</button>`}>
    <table class="keys"><tbody>
      ${PAGES.map((p) => html`<tr><td><kbd>g</kbd> <kbd>${p.key}</kbd></td><td>Go to ${p.label}</td></tr>`)}
      <tr><td><kbd>/</kbd></td><td>Search your documents</td></tr>
      <tr><td><kbd>n</kbd></td><td>New conversation</td></tr>
      <tr><td><kbd>Esc</kbd></td><td>Stop the answer being written; close a dialog</td></tr>
      <tr><td><kbd>Enter</kbd> / <kbd>Shift</kbd>+<kbd>Enter</kbd></td><td>Send / new line</td></tr>
      <tr><td><kbd>?</kbd></td><td>This list</td></tr>
    </tbody></table>
  <//>`;
}

function App({ api, auth, config }) {
  const [route, setRoute] = useState(parseRoute());
  const [signedIn, setSignedIn] = useState(auth.signedIn());
  const [help, setHelp] = useState(false);
  const [live, setLive] = useState(null);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    window.addEventListener('hashchange', onHash);
    auth.onChange(() => setSignedIn(auth.signedIn()));
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (!signedIn) return undefined;
    const l = new Live(api);
    l.connect();
    const off = l.on((e) => {
      if (e.type === 'notification') {
        toast(e.body, { title: e.subject || 'Reminder' });
        if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
          new Notification(e.subject || 'Jarvis', { body: e.body, icon: 'icon.svg' });
        }
      }
    });
    setLive(l);
    return () => { off(); l.close(); };
  }, [signedIn]);

  // Keyboard: `?` help, `g x` go, `/` search, `n` new chat.
  useEffect(() => {
    let pending = null;
    const onKey = (e) => {
      const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable;
      if (typing || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === '?') { e.preventDefault(); setHelp(true); return; }
      if (pending) {
        const page = PAGES.find((p) => p.key === e.key);
        pending = null;
        if (page) { e.preventDefault(); go(`#/${page.id}`); }
        return;
      }
      if (e.key === 'g') { pending = setTimeout(() => { pending = null; }, 1200); return; }
      if (e.key === '/') { e.preventDefault(); go('#/search'); setTimeout(() => document.getElementById('q')?.focus(), 50); }
      if (e.key === 'n') { e.preventDefault(); go('#/chat/new'); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  if (!signedIn) return html`<${SignIn} auth=${auth} /><${Toasts} />`;
  const page = PAGES.find((p) => p.id === route.page);
  const Page = page.Page;
  return html`<div class="shell">
    <nav class="nav" aria-label="Main">
      <div class="brand"><img src="icon.svg" alt="" /> Jarvis</div>
      ${PAGES.map((p) => html`<a href=${'#/' + p.id} aria-current=${p.id === route.page ? 'page' : undefined}>
        <${Icon} name=${p.icon} /><span>${p.label}</span></a>`)}
      <div class="spacer"></div>
      <button class="btn quiet nav-extra" onClick=${() => setHelp(true)}><${Icon} name="help" /> Shortcuts <kbd>?</kbd></button>
      <button class="btn quiet nav-extra" onClick=${() => auth.signOut()}><${Icon} name="out" /> Sign out</button>
    </nav>
    <div class="content">
      <header class="topbar">
        <h1>${page.label}</h1>
        <button class="btn quiet icon-btn" onClick=${() => setHelp(true)} aria-label="Keyboard shortcuts"><${Icon} name="help" /></button>
      </header>
      <main class="page" id="main">
        <${Page} api=${api} live=${live} route=${route} config=${config} key=${route.page} />
      </main>
    </div>
    <${Shortcuts} open=${help} onClose=${() => setHelp(false)} />
    <${Toasts} />
  </div>`;
}

async function boot() {
  const root = document.getElementById('app');
  try {
    const config = await (await fetch('config.json', { cache: 'no-store' })).json();
    const auth = await makeAuth(config);
    const api = new Api(config, auth);
    try {
      await auth.fromLocation();
    } catch (e) {
      toast(say(e), { kind: 'error', title: 'Sign-in' });
    }
    root.textContent = '';
    render(html`<${App} api=${api} auth=${auth} config=${config} />`, root);
    if ('serviceWorker' in navigator && window.isSecureContext) {
      navigator.serviceWorker.register('sw.js').catch(() => {});
    }
    window.jarvisReadyAt = performance.now();
    window.jarvisReady = true;
  } catch (e) {
    root.textContent = `Jarvis could not start: ${say(e)}`;
  }
}

boot();
