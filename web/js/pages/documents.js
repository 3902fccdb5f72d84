// Documents: drop or pick many files at once; each shows its upload's
// progress, then its ingest stage live (queued → extracting → indexing →
// indexed), or failed/skipped with the reason in words. Large files go
// straight to storage through a pre-signed URL. The list filters and deletes.
import { html, toast, say, bytes, when, count } from '../ui.js';
import { useEffect, useRef, useState, useCallback } from '../../vendor/preact-hooks.mjs';
import { Icon } from '../icons.js';

const FINAL = new Set(['indexed', 'failed', 'skipped']);
const STAGES = ['uploading', 'queued', 'extracting', 'indexing', 'indexed'];
const STATUS_WORDS = { queued: 'Queued', processing: 'Processing', extracting: 'Extracting', indexing: 'Indexing', indexed: 'Indexed', failed: 'Failed', skipped: 'Skipped' };

/** Where a document stands: its status, and within processing its stage. */
export function stageOf(doc) {
  if (!doc) return 'queued';
  if (doc.status === 'processing') return doc.stage === 'indexing' ? 'indexing' : 'extracting';
  return doc.status;
}

function Stages({ at }) {
  const i = STAGES.indexOf(at);
  return html`<div class="stages" aria-label=${'Stage: ' + at}>
    ${STAGES.map((s, j) => html`<span class=${j < i ? 'done' : j === i ? 'on' : ''}>${s}</span>${j < STAGES.length - 1 && html`<span aria-hidden="true">→</span>`}`)}
  </div>`;
}

function Upload({ u }) {
  const done = FINAL.has(u.stage);
  return html`<li class="item" data-file=${u.name}>
    <${Icon} name="doc" />
    <div class="main">
      <div class="title">${u.name} <span class="muted">${bytes(u.size)}</span></div>
      ${u.stage === 'uploading' && html`<progress max="100" value=${Math.round(u.progress * 100)} aria-label=${'Uploading ' + u.name}></progress>`}
      ${!done && u.stage !== 'uploading' && html`<${Stages} at=${u.stage} />`}
      ${done && html`<span class=${'badge ' + u.stage}>${STATUS_WORDS[u.stage] || u.stage}</span>`}
      ${u.duplicate && html` <span class="muted">the same content as a document you have</span>`}
      ${u.reason && html`<div class="meta">${u.reason}</div>`}
    </div>
  </li>`;
}

export function Documents({ api }) {
  const [uploads, setUploads] = useState([]);
  const [docs, setDocs] = useState(null);
  const [filter, setFilter] = useState('');
  const [status, setStatus] = useState('');
  const [over, setOver] = useState(false);
  const picker = useRef(null);
  const live = useRef(true);
  useEffect(() => () => { live.current = false; }, []);

  const load = useCallback(async () => {
    try {
      const q = status ? `?status=${status}&limit=200` : '?limit=200';
      setDocs((await api.get(`/documents${q}`)).documents);
    } catch (e) { toast(say(e), { kind: 'error' }); }
  }, [api, status]);
  useEffect(() => { load(); }, [status]);

  const update = (key, change) => setUploads((us) => us.map((u) => (u.key === key ? { ...u, ...change } : u)));

  /** Follows one document to a final status. */
  const follow = async (key, id) => {
    for (let i = 0; i < 900 && live.current; i++) {
      try {
        const d = await api.get(`/documents/${id}`);
        const stage = stageOf(d);
        update(key, { stage, reason: d.status_reason || null });
        if (FINAL.has(stage)) { load(); return; }
      } catch (e) {
        if (e.status !== 404) { update(key, { stage: 'failed', reason: say(e) }); return; }
      }
      await new Promise((r) => setTimeout(r, i < 20 ? 400 : 1500));
    }
  };

  const add = (files) => {
    for (const file of files) {
      const key = `${file.name}-${file.size}-${Math.random()}`;
      setUploads((us) => [{ key, name: file.name, size: file.size, progress: 0, stage: 'uploading' }, ...us]);
      api.upload(file, (p) => update(key, { progress: p })).then((accepted) => {
        const id = accepted.duplicate_of || accepted.document_id;
        update(key, { stage: 'queued', duplicate: !!accepted.duplicate_of, reason: accepted.reason || null, progress: 1 });
        follow(key, id);
      }).catch((e) => update(key, { stage: 'failed', reason: say(e) }));
    }
  };

  const onDrop = (e) => {
    e.preventDefault();
    setOver(false);
    if (e.dataTransfer && e.dataTransfer.files.length) add(Array.from(e.dataTransfer.files));
  };

  const remove = async (d) => {
    if (!confirm(`Delete "${d.title}"? Its file, its text and its place in search are removed.`)) return;
    try {
      await api.del(`/documents/${d.id}`);
      toast(`Deleted ${d.title}`);
      load();
    } catch (e) { toast(say(e), { kind: 'error' }); }
  };

  const shown = (docs || []).filter((d) => !filter || d.title.toLowerCase().includes(filter.toLowerCase()));
  return html`<div class="stack">
    <div class=${'dropzone' + (over ? ' over' : '')} onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave=${() => setOver(false)} onDrop=${onDrop}>
      <${Icon} name="upload" size=${28} />
      <p>Drop files here: PDF, Word, Markdown, text, HTML, mail (.eml), images, audio.</p>
      <input ref=${picker} id="files" type="file" multiple class="sr-only" onChange=${(e) => { add(Array.from(e.target.files)); e.target.value = ''; }} />
      <label for="files" class="btn primary"><${Icon} name="plus" /> Choose files</label>
    </div>
    ${uploads.length > 0 && html`<section aria-label="Uploads"><h2>Adding</h2><ul class="list">${uploads.map((u) => html`<${Upload} key=${u.key} u=${u} />`)}</ul></section>`}
    <section aria-label="Your documents" class="stack">
      <div class="row">
        <div class="grow"><label for="doc-filter" class="sr-only">Filter by title</label>
          <input id="doc-filter" type="search" placeholder="Filter by title" value=${filter} onInput=${(e) => setFilter(e.target.value)} /></div>
        <div><label for="doc-status" class="sr-only">Status</label>
          <select id="doc-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
            <option value="">Every status</option>
            ${Object.entries(STATUS_WORDS).map(([k, v]) => html`<option value=${k}>${v}</option>`)}
          </select></div>
      </div>
      ${docs === null ? html`<p class="muted">Loading…</p>` : shown.length === 0 ? html`<p class="empty">No documents${filter || status ? ' match' : ' yet: drop some above'}.</p>` : html`<ul class="list">
        ${shown.map((d) => html`<li class="item" key=${d.id}>
          <${Icon} name="doc" />
          <div class="main">
            <div class="title">${d.title}</div>
            <div class="meta">${d.content_type} · ${bytes(d.source.size || 0)} · ${when(d.updated_at)}${d.chunk_count ? ` · ${count(d.chunk_count, 'passage')}` : ''}</div>
            ${d.status_reason && html`<div class="meta">${d.status_reason}</div>`}
          </div>
          <span class=${'badge ' + stageOf(d)}>${STATUS_WORDS[stageOf(d)] || d.status}</span>
          <button class="btn quiet icon-btn" onClick=${() => remove(d)} aria-label=${'Delete ' + d.title}><${Icon} name="trash" size=${18} /></button>
        </li>`)}</ul>`}
    </section>
  </div>`;
}
