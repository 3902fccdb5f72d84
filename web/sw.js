// The app shell, cached so that Jarvis opens (and installs) even when the
// network is slow; API calls always go to the network.
const SHELL = 'jarvis-shell-v1';
const FILES = [
  './', 'index.html', 'app.css', 'icon.svg', 'manifest.webmanifest',
  'js/main.js', 'js/api.js', 'js/auth.js', 'js/ui.js', 'js/icons.js', 'js/markdown.js',
  'js/pages/chat.js', 'js/pages/documents.js', 'js/pages/search.js', 'js/pages/lists.js',
  'js/pages/settings.js', 'vendor/preact.mjs', 'vendor/preact-hooks.mjs', 'vendor/htm.mjs',
  'vendor/marked.mjs', 'vendor/purify.mjs',
];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((k) => k !== SHELL).map((k) => caches.delete(k)),
  )).then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  const shell = e.request.method === 'GET' && url.origin === self.location.origin
    && (url.pathname === '/' || FILES.some((f) => url.pathname.endsWith('/' + f) || url.pathname === '/' + f));
  if (!shell) return;
  // Network first: a new release is seen at once; the cache when offline.
  e.respondWith(fetch(e.request).then((r) => {
    const copy = r.clone();
    caches.open(SHELL).then((c) => c.put(e.request, copy));
    return r;
  }).catch(() => caches.match(e.request)));
});
