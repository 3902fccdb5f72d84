// Search: hybrid (keyword and meaning) over your documents; each hit shows
// its title, section, page and the matching passage highlighted, and opens
// its source beside a link to the original at that page.
import { html, toast, say, count } from '../ui.js';
import { useEffect, useState } from '../../vendor/preact-hooks.mjs';
import { Icon } from '../icons.js';
import { snippetHtml } from '../markdown.js';
import { SourceViewer } from './chat.js';

export function Search({ api, route }) {
  const [q, setQ] = useState(route.query.get('q') || '');
  const [mode, setMode] = useState('hybrid');
  const [hits, setHits] = useState(null);
  const [busy, setBusy] = useState(false);
  const [took, setTook] = useState(null);
  const [source, setSource] = useState(null);

  const run = async (e) => {
    if (e) e.preventDefault();
    const query = q.trim();
    if (!query) return;
    setBusy(true);
    history.replaceState(null, '', `#/search?q=${encodeURIComponent(query)}`);
    try {
      const r = await api.post('/search', { query, mode, limit: 20 });
      setHits(r.hits);
      setTook(r.took_ms);
    } catch (err) {
      toast(say(err), { kind: 'error', title: 'Search failed' });
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => { if (q) run(); }, []);

  return html`<div class="stack">
    <form class="row" onSubmit=${run} role="search">
      <div class="grow"><label for="q" class="sr-only">Search your documents</label>
        <input id="q" type="search" placeholder="Search your documents" value=${q} onInput=${(e) => setQ(e.target.value)} autofocus /></div>
      <div><label for="mode" class="sr-only">How to search</label>
        <select id="mode" value=${mode} onChange=${(e) => setMode(e.target.value)}>
          <option value="hybrid">Words and meaning</option>
          <option value="keyword">Exact words</option>
          <option value="semantic">Meaning</option>
        </select></div>
      <button class="btn primary" type="submit" disabled=${busy || !q.trim()}><${Icon} name="search" /> Search</button>
    </form>
    ${hits === null ? html`<p class="muted">Search finds passages in everything you added, by its words and by its meaning.</p>`
      : hits.length === 0 ? html`<p class="empty">Nothing found for "${q}".</p>` : html`
      <p class="muted" aria-live="polite">${count(hits.length, 'passage')}${took !== null ? ` in ${took} ms` : ''}</p>
      <ol class="list">${hits.map((h) => html`<li class="item hit" key=${h.chunk_id}>
        <${Icon} name="doc" />
        <div class="main">
          <button class="btn quiet small title" onClick=${() => setSource({ ...h, snippet: h.text })}>${h.title}</button>
          <div class="meta">${[h.section, h.page && `page ${h.page}`, h.source].filter(Boolean).join(' · ')}</div>
          <p class="passage" dangerouslySetInnerHTML=${{ __html: snippetHtml(h.snippet || h.text) }}></p>
        </div>
      </li>`)}</ol>`}
    ${source && html`<${SourceViewer} api=${api} source=${source} onClose=${() => setSource(null)} />`}
  </div>`;
}
