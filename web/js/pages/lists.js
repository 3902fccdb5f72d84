// Reminders, tasks and drafts: create, edit, complete, cancel, send. A draft
// is sent only with its confirmation token, from a dialog that shows exactly
// the mail; editing it gives it a new token (the one shown before no longer
// sends).
import { html, toast, say, when, Dialog } from '../ui.js';
import { useEffect, useState, useCallback } from '../../vendor/preact-hooks.mjs';
import { Icon } from '../icons.js';

function useList(api, path, field) {
  const [items, setItems] = useState(null);
  const load = useCallback(async () => {
    try { setItems((await api.get(path))[field]); } catch (e) { toast(say(e), { kind: 'error' }); }
  }, [api, path]);
  useEffect(() => { load(); }, [path]);
  return [items, load];
}

async function act(f, done) {
  try { await f(); if (done) toast(done); return true; } catch (e) { toast(say(e), { kind: 'error', title: 'Nothing changed' }); return false; }
}

/** A dialog that edits some fields of an item and saves only what changed
 * (PATCH). `fields`: [{name, label, value, multiline?, placeholder?, hint?}]. */
function EditDialog({ title, fields, onSave, onClose }) {
  const [values, setValues] = useState(Object.fromEntries(fields.map((f) => [f.name, f.value || ''])));
  const [busy, setBusy] = useState(false);
  const save = async (e) => {
    e.preventDefault();
    const changed = Object.fromEntries(fields
      .filter((f) => values[f.name] !== (f.value || ''))
      .map((f) => [f.name, f.parse ? f.parse(values[f.name]) : values[f.name]]));
    if (Object.keys(changed).length === 0) { onClose(); return; }
    setBusy(true);
    if (await onSave(changed)) onClose();
    setBusy(false);
  };
  return html`<${Dialog} open=${true} onClose=${onClose} title=${title} labelledBy="edit-title"
    footer=${html`<button class="btn" type="button" onClick=${onClose}>Cancel</button>
      <button class="btn primary" type="submit" form="edit-form" disabled=${busy}><${Icon} name="check" /> Save</button>`}>
    <form id="edit-form" class="stack" onSubmit=${save}>
      ${fields.map((f) => html`<div class="field">
        <label for=${'edit-' + f.name}>${f.label}</label>
        ${f.multiline
          ? html`<textarea id=${'edit-' + f.name} rows="6" value=${values[f.name]} onInput=${(e) => setValues({ ...values, [f.name]: e.target.value })}></textarea>`
          : html`<input id=${'edit-' + f.name} type="text" value=${values[f.name]} placeholder=${f.placeholder || ''}
              onInput=${(e) => setValues({ ...values, [f.name]: e.target.value })} />`}
        ${f.hint && html`<div class="muted">${f.hint}</div>`}
      </div>`)}
    </form>
  <//>`;
}

export function Reminders({ api }) {
  const [items, load] = useList(api, '/reminders', 'reminders');
  const [editing, setEditing] = useState(null);
  const [text, setText] = useState('');
  const [whenText, setWhen] = useState('');
  const add = async (e) => {
    e.preventDefault();
    const body = { text: text.trim() };
    if (/^(every|each|daily|weekdays?)\b/i.test(whenText.trim())) body.every = whenText.trim(); else body.when = whenText.trim();
    if (await act(() => api.post('/reminders', body), 'Reminder set')) { setText(''); setWhen(''); load(); }
  };
  return html`<div class="stack">
    <form class="card stack" onSubmit=${add} aria-label="New reminder">
      <div class="row">
        <div class="grow"><label for="r-text">Remind me to</label><input id="r-text" type="text" value=${text} onInput=${(e) => setText(e.target.value)} placeholder="call Ana" required maxlength="500" /></div>
        <div class="grow"><label for="r-when">When</label><input id="r-when" type="text" value=${whenText} onInput=${(e) => setWhen(e.target.value)} placeholder="tomorrow at 9am, in 2 hours, every weekday at 8" required /></div>
      </div>
      <div><button class="btn primary" type="submit"><${Icon} name="bell" /> Set reminder</button></div>
    </form>
    ${items === null ? html`<p class="muted">Loading…</p>` : items.length === 0 ? html`<p class="empty">No upcoming reminders.</p>` : html`<ul class="list">
      ${items.map((r) => html`<li class="item" key=${r.id}>
        <${Icon} name="clock" />
        <div class="main"><div class="title">${r.text}</div><div class="meta">${r.at_local || (r.schedule && (r.schedule.at ? when(r.schedule.at) : `every: ${r.schedule.expression} (${r.schedule.time_zone})`))}</div></div>
        <div class="actions">
          <button class="btn quiet small" onClick=${() => setEditing(r)} aria-label=${'Edit the reminder ' + r.text}><${Icon} name="edit" /> Edit</button>
          <button class="btn small" onClick=${async () => { if (await act(() => api.del(`/reminders/${r.id}`), 'Reminder cancelled')) load(); }} aria-label=${'Cancel the reminder ' + r.text}><${Icon} name="x" /> Cancel</button>
        </div>
      </li>`)}</ul>`}
    ${editing && html`<${EditDialog} title="Change the reminder" onClose=${() => setEditing(null)}
      fields=${[
        { name: 'text', label: 'Remind me to', value: editing.text },
        { name: 'when', label: 'When', value: '', placeholder: editing.at_local || 'tomorrow at 9am, every weekday at 8', hint: 'Leave empty to keep the time.' },
      ]}
      onSave=${async (changed) => {
        const body = {};
        if (changed.text !== undefined) body.text = changed.text.trim();
        const w = (changed.when || '').trim();
        if (w) { if (/^(every|each|daily|weekdays?)\b/i.test(w)) body.every = w; else body.when = w; }
        const ok = await act(() => api.patch(`/reminders/${editing.id}`, body), 'Reminder changed');
        if (ok) load();
        return ok;
      }} />`}
  </div>`;
}

export function Tasks({ api }) {
  const [status, setStatus] = useState('open');
  const [items, load] = useList(api, `/tasks?status=${status}`, 'tasks');
  const [editing, setEditing] = useState(null);
  const [title, setTitle] = useState('');
  const [due, setDue] = useState('');
  const add = async (e) => {
    e.preventDefault();
    const body = { title: title.trim() };
    if (due.trim()) body.due = due.trim();
    if (await act(() => api.post('/tasks', body), 'Task added')) { setTitle(''); setDue(''); load(); }
  };
  return html`<div class="stack">
    <form class="card stack" onSubmit=${add} aria-label="New task">
      <div class="row">
        <div class="grow"><label for="t-title">Task</label><input id="t-title" type="text" value=${title} onInput=${(e) => setTitle(e.target.value)} placeholder="renew the passport" required maxlength="300" /></div>
        <div class="grow"><label for="t-due">Due (optional)</label><input id="t-due" type="text" value=${due} onInput=${(e) => setDue(e.target.value)} placeholder="friday 5pm" /></div>
      </div>
      <div><button class="btn primary" type="submit"><${Icon} name="plus" /> Add task</button></div>
    </form>
    <div class="tabs" role="tablist" aria-label="Which tasks">
      ${['open', 'done', 'all'].map((s) => html`<button role="tab" aria-selected=${s === status} onClick=${() => setStatus(s)}>${s[0].toUpperCase() + s.slice(1)}</button>`)}
    </div>
    ${items === null ? html`<p class="muted">Loading…</p>` : items.length === 0 ? html`<p class="empty">No ${status} tasks.</p>` : html`<ul class="list">
      ${items.map((t) => html`<li class="item" key=${t.id}>
        <${Icon} name=${t.done ? 'check' : 'task'} />
        <div class="main"><div class="title">${t.title}</div><div class="meta">${t.due ? 'due ' + (t.due_local || when(t.due)) : 'no due date'}${t.done ? ' · done' : ''}</div></div>
        <div class="actions">
          ${!t.done && html`<button class="btn small" onClick=${async () => { if (await act(() => api.post(`/tasks/${t.id}/complete`), 'Done')) load(); }} aria-label=${'Mark done: ' + t.title}><${Icon} name="check" /> Done</button>`}
          <button class="btn quiet icon-btn" onClick=${() => setEditing(t)} aria-label=${'Edit the task ' + t.title}><${Icon} name="edit" size=${18} /></button>
          <button class="btn quiet icon-btn" onClick=${async () => { if (confirm(`Delete the task "${t.title}"?`) && await act(() => api.del(`/tasks/${t.id}`), 'Task deleted')) load(); }} aria-label=${'Delete the task ' + t.title}><${Icon} name="trash" size=${18} /></button>
        </div>
      </li>`)}</ul>`}
    ${editing && html`<${EditDialog} title="Change the task" onClose=${() => setEditing(null)}
      fields=${[
        { name: 'title', label: 'Task', value: editing.title },
        { name: 'due', label: 'Due', value: editing.due_local || '', placeholder: 'friday 5pm', hint: 'Empty: no due date.' },
      ]}
      onSave=${async (changed) => {
        const ok = await act(() => api.patch(`/tasks/${editing.id}`, changed), 'Task changed');
        if (ok) load();
        return ok;
      }} />`}
  </div>`;
}

export function Drafts({ api }) {
  const [items, load] = useList(api, '/emails/drafts', 'drafts');
  const [to, setTo] = useState('');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const [sending, setSending] = useState(null);
  const [editing, setEditing] = useState(null);
  const add = async (e) => {
    e.preventDefault();
    const draft = { to: to.split(/[,;]/).map((a) => a.trim()).filter(Boolean), subject: subject.trim(), body };
    if (await act(() => api.post('/emails/drafts', draft), 'Draft saved (not sent)')) { setTo(''); setSubject(''); setBody(''); load(); }
  };
  const send = async () => {
    const d = sending;
    setSending(null);
    if (await act(() => api.post(`/emails/drafts/${d.id}/send`, { confirm_token: d.confirm_token }), `Sent to ${d.to.join(', ')}`)) load();
    else load();
  };
  return html`<div class="stack">
    <form class="card stack" onSubmit=${add} aria-label="New draft">
      <div class="field"><label for="d-to">To</label><input id="d-to" type="text" value=${to} onInput=${(e) => setTo(e.target.value)} placeholder="ana@example.com" required /></div>
      <div class="field"><label for="d-subject">Subject</label><input id="d-subject" type="text" value=${subject} onInput=${(e) => setSubject(e.target.value)} required maxlength="300" /></div>
      <div class="field"><label for="d-body">Text</label><textarea id="d-body" rows="5" value=${body} onInput=${(e) => setBody(e.target.value)}></textarea></div>
      <div><button class="btn primary" type="submit"><${Icon} name="mail" /> Save draft</button> <span class="muted">Nothing is sent until you press Send and confirm.</span></div>
    </form>
    ${items === null ? html`<p class="muted">Loading…</p>` : items.length === 0 ? html`<p class="empty">No drafts.</p>` : html`<ul class="list">
      ${items.map((d) => html`<li class="item" key=${d.id}>
        <${Icon} name="mail" />
        <div class="main"><div class="title">${d.subject}</div><div class="meta">to ${d.to.join(', ')} · ${when(d.created_at)}</div></div>
        <span class=${'badge ' + d.state}>${d.state === 'unknown' ? 'may have been sent' : d.state}</span>
        ${d.confirm_token && html`<div class="actions">
          <button class="btn quiet small" onClick=${() => setEditing(d)} aria-label=${'Edit the draft ' + d.subject}><${Icon} name="edit" /> Edit</button>
          <button class="btn small primary" onClick=${() => setSending(d)}><${Icon} name="send" /> Send…</button>
        </div>`}
      </li>`)}</ul>`}
    ${editing && html`<${EditDialog} title="Change the draft" onClose=${() => setEditing(null)}
      fields=${[
        { name: 'to', label: 'To', value: editing.to.join(', '), parse: (v) => v.split(/[,;]/).map((a) => a.trim()).filter(Boolean) },
        { name: 'subject', label: 'Subject', value: editing.subject },
        { name: 'body', label: 'Text', value: editing.body, multiline: true },
      ]}
      onSave=${async (changed) => {
        const ok = await act(() => api.patch(`/emails/drafts/${editing.id}`, changed), 'Draft changed (not sent)');
        if (ok) load();
        return ok;
      }} />`}
    ${sending && html`<${Dialog} open=${true} onClose=${() => setSending(null)} title="Send this e-mail?" labelledBy="send-title"
      footer=${html`<button class="btn" onClick=${() => setSending(null)}>Cancel</button>
        <button class="btn primary" onClick=${send}><${Icon} name="send" /> Send</button>`}>
      <dl class="pending-card">
        <dt>To</dt><dd>${sending.to.join(', ')}</dd>
        <dt>Subject</dt><dd>${sending.subject}</dd>
      </dl>
      <pre>${sending.body}</pre>
    <//>`}
  </div>`;
}
