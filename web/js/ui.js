// What every page shares: `html` (htm over Preact), toasts, dialogs, small
// formatting helpers. No eval, no inline code: the strict CSP holds.
import { h, render } from '../vendor/preact.mjs';
import { useEffect, useRef, useState } from '../vendor/preact-hooks.mjs';
import htm from '../vendor/htm.mjs';

export const html = htm.bind(h);
export { h, render };

// ---- toasts: a live region that screen readers announce

let pushToast = () => {};

/** Shows a message for a few seconds (`error` ones stay until closed). */
export function toast(text, { kind = 'info', title } = {}) {
  pushToast({ id: Math.random().toString(36).slice(2), text, kind, title });
}

export function Toasts() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    pushToast = (t) => {
      setItems((xs) => [...xs.slice(-3), t]);
      if (t.kind !== 'error') setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== t.id)), 6000);
    };
  }, []);
  const close = (id) => setItems((xs) => xs.filter((x) => x.id !== id));
  return html`<div class="toasts" role="status" aria-live="polite">
    ${items.map((t) => html`<div class=${'toast ' + t.kind} key=${t.id}>
      <div class="main">${t.title && html`<strong>${t.title}</strong><br/>`}${t.text}</div>
      <button class="btn quiet small" onClick=${() => close(t.id)} aria-label="Dismiss">Close</button>
    </div>`)}
  </div>`;
}

// ---- dialog: the native <dialog>, opened modally (focus is trapped, Esc closes)

export function Dialog({ open, title, onClose, children, footer, labelledBy = 'dialog-title' }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} aria-labelledby=${labelledBy} onClose=${onClose} onCancel=${onClose}>
    <div class="body"><h2 id=${labelledBy}>${title}</h2>${children}</div>
    ${footer && html`<div class="foot">${footer}</div>`}
  </dialog>`;
}

/** Goes to a page of the app (`#/documents`…). */
export function go(hash) {
  window.location.hash = hash;
}

// ---- formatting

/** A time in the user's zone, as people read it. */
export function when(iso, zone) {
  if (!iso) return '';
  const d = new Date(iso);
  try {
    return d.toLocaleString(undefined, { timeZone: zone || undefined, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  } catch {
    return d.toLocaleString();
  }
}

/** A size in bytes, short. */
/** "1 passage", "3 passages". */
export function count(n, one, many = one + 's') {
  return `${n} ${n === 1 ? one : many}`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The error's words for a person. */
export function say(err) {
  return (err && err.message) || String(err);
}

/** A page's loading state. */
export function Loading({ what = 'Loading' }) {
  return html`<p class="muted" aria-busy="true">${what}…</p>`;
}
