// Chat: answers streamed over the live connection (Esc stops one), citations
// as numbered chips that open their source, what the tools did as cards, and
// a pending send as a card with the exact mail and Send / Cancel buttons —
// the structured confirmation (`confirm: {token}`), never free text.
import { html, toast, say, go, Dialog, when } from '../ui.js';
import { useEffect, useRef, useState, useCallback } from '../../vendor/preact-hooks.mjs';
import { Icon } from '../icons.js';
import { answerHtml } from '../markdown.js';

const ACTION_ICON = {
  reminder_created: 'bell', reminder_cancelled: 'bell', task_created: 'task', task_completed: 'check',
  task_deleted: 'trash', draft_created: 'mail', email_sent: 'send', email_unknown: 'alert',
};

function newTurnId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return 'web-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Opens a cited passage beside a link to its original (at its page). */
export function SourceViewer({ api, source, onClose }) {
  const [busy, setBusy] = useState(false);
  if (!source) return null;
  const open = async () => {
    setBusy(true);
    // A window opened now, before the await, is not a blocked pop-up; it gets
    // no hold on this page.
    const w = window.open('', '_blank');
    if (w) w.opener = null;
    try {
      const o = await api.get(`/documents/${source.document_id}/original`);
      const page = source.page && /pdf/.test(o.content_type) ? `#page=${source.page}` : '';
      if (w) w.location.href = o.url + page; else window.location.assign(o.url + page);
    } catch (e) {
      if (w) w.close();
      toast(say(e), { kind: 'error', title: 'The original could not be opened' });
    } finally {
      setBusy(false);
    }
  };
  const where = [source.section, source.page && `page ${source.page}`].filter(Boolean).join(' · ');
  return html`<${Dialog} open=${true} onClose=${onClose} title=${source.title} labelledBy="source-title"
    footer=${html`<button class="btn" onClick=${onClose}>Close</button>
      <button class="btn primary" onClick=${open} disabled=${busy}><${Icon} name="external" /> Open the original${source.page ? ` at page ${source.page}` : ''}</button>`}>
    <div class="viewer">
      ${where && html`<p class="muted">${where}</p>`}
      <blockquote>${source.snippet || source.text}</blockquote>
    </div>
  <//>`;
}

function Citations({ citations, onOpen }) {
  if (!citations || !citations.length) return null;
  return html`<div class="chips" aria-label="Sources">
    ${citations.map((c) => html`<button class="chip" onClick=${() => onOpen(c)} title=${c.title}>
      <b>${c.n}</b><span>${c.title}${c.page ? ` · p. ${c.page}` : ''}</span></button>`)}
  </div>`;
}

function Actions({ actions }) {
  const shown = (actions || []).filter((a) => a.kind !== 'confirmation_required');
  if (!shown.length) return null;
  return html`<div class="stack">${shown.map((a) => html`<div class="action-card" role="status">
    <${Icon} name=${ACTION_ICON[a.kind] || 'check'} /><span>${a.summary}</span></div>`)}</div>`;
}

/** The action waiting for the user: exactly what would happen, and the two buttons. */
function PendingCard({ pending, busy, onSend, onCancel }) {
  const mail = pending.mail;
  const isMail = !!mail;
  return html`<section class="pending-card" aria-label="Waiting for your confirmation">
    <strong>${isMail ? 'Send this e-mail?' : 'Do this?'}</strong>
    ${pending.unnamed_recipients && pending.unnamed_recipients.length > 0 && html`<div class="warn" role="alert">
      <${Icon} name="alert" size=${16} /> You never asked to write to ${pending.unnamed_recipients.join(', ')}.
      That address came from a document, a mail or the model. Send only if you mean it.</div>`}
    ${isMail ? html`<dl>
        <dt>To</dt><dd>${mail.to.join(', ')}</dd>
        <dt>Subject</dt><dd>${mail.subject}</dd>
      </dl>
      <pre>${mail.body}</pre>` : html`<p>${pending.summary}</p>`}
    <div class="row">
      <button class="btn primary" onClick=${onSend} disabled=${busy}><${Icon} name=${isMail ? 'send' : 'check'} /> ${isMail ? 'Send' : 'Confirm'}</button>
      <button class="btn" onClick=${onCancel} disabled=${busy}><${Icon} name="x" /> Cancel</button>
    </div>
  </section>`;
}

/** The answer's words without Jarvis's own rendering of the pending action
 * (the card below shows it, with its buttons). */
function withoutConfirmation(text) {
  const at = text.indexOf('Waiting for your confirmation:');
  return at > 0 ? text.slice(0, at).trim() : text;
}

function Turn({ turn, onOpen }) {
  const ref = useRef(null);
  const cited = (turn.citations || []).map((c) => c.n);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const click = (e) => {
      const b = e.target.closest('button.cite');
      if (!b) return;
      const c = (turn.citations || []).find((x) => x.n === Number(b.dataset.n));
      if (c) onOpen(c);
    };
    el.addEventListener('click', click);
    return () => el.removeEventListener('click', click);
  }, [turn]);
  if (turn.role === 'user') {
    return html`<div class="turn user"><div class="bubble">${turn.text}</div></div>`;
  }
  return html`<div class="turn assistant">
    <div class="bubble" ref=${ref} dangerouslySetInnerHTML=${{ __html: answerHtml(turn.text || '', cited) }}></div>
    ${turn.stopped && html`<span class="stopped">Stopped${turn.full ? html` — <button class="btn quiet small" onClick=${turn.showFull}>show the whole answer</button>` : ''}</span>`}
    <${Citations} citations=${turn.citations} onOpen=${onOpen} />
    <${Actions} actions=${turn.actions} />
  </div>`;
}

export function Chat({ api, live, route }) {
  const wanted = route.rest[0] && route.rest[0] !== 'new' ? route.rest[0] : null;
  const [conversations, setConversations] = useState([]);
  const [listOpen, setListOpen] = useState(false);
  const [conv, setConv] = useState(wanted);
  const [turns, setTurns] = useState([]);
  const [pending, setPending] = useState(null);
  const [streaming, setStreaming] = useState(null); // {text, tools, stopped}
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [source, setSource] = useState(null);
  const streamRef = useRef(null);
  const endRef = useRef(null);
  const inputRef = useRef(null);

  const loadList = useCallback(async () => {
    try { setConversations((await api.get('/conversations')).conversations); } catch (e) { toast(say(e), { kind: 'error' }); }
  }, [api]);

  useEffect(() => { loadList(); }, []);

  useEffect(() => {
    setConv(wanted);
    setPending(null);
    setStreaming(null);
    if (!wanted) { setTurns([]); return; }
    api.get(`/conversations/${wanted}`).then((c) => {
      setTurns(c.turns);
      setPending(c.pending || null);
    }).catch((e) => toast(say(e), { kind: 'error', title: 'That conversation could not be opened' }));
  }, [wanted]);

  useEffect(() => { endRef.current && endRef.current.scrollIntoView({ block: 'end' }); }, [turns, streaming, pending]);

  // The live connection's events of the turn under way.
  useEffect(() => {
    if (!live) return undefined;
    return live.on((e) => {
      const s = streamRef.current;
      if (!s) return;
      if (e.type === 'started') {
        s.conversation_id = e.conversation_id;
      } else if (e.type === 'delta') {
        if (s.stopped) { s.hidden += e.text; return; }
        s.text += e.text;
        setStreaming({ ...s });
      } else if (e.type === 'tool_started') {
        if (!s.stopped) { s.tools = [...s.tools, e.name]; setStreaming({ ...s }); }
      } else if (e.type === 'done') {
        streamRef.current = null;
        const id = e.conversation_id;
        const answer = { role: 'assistant', text: s.stopped ? s.text : e.answer, citations: e.citations, actions: e.actions };
        if (s.stopped) {
          answer.stopped = true;
          answer.full = e.answer;
        }
        setTurns((ts) => [...ts, answer]);
        setPending(e.pending || null);
        setStreaming(null);
        setBusy(false);
        if (id && id !== conv) {
          setConv(id);
          history.replaceState(null, '', `#/chat/${id}`);
        }
        loadList();
      } else if (e.type === 'error') {
        streamRef.current = null;
        setStreaming(null);
        setBusy(false);
        toast(e.message, { kind: 'error', title: 'Jarvis could not answer' });
      }
    });
  }, [live, conv]);

  // Esc stops the answer being written (what is written so far stays).
  useEffect(() => {
    const onKey = (e) => {
      if (e.key !== 'Escape' || !streamRef.current || streamRef.current.stopped) return;
      e.preventDefault();
      streamRef.current.stopped = true;
      setStreaming({ ...streamRef.current });
      setBusy(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const send = async (e) => {
    if (e) e.preventDefault();
    const message = text.trim();
    if (!message || busy || !live) return;
    setBusy(true);
    setText('');
    setTurns((ts) => [...ts, { role: 'user', text: message }]);
    streamRef.current = { text: '', tools: [], stopped: false, hidden: '' };
    setStreaming({ ...streamRef.current });
    try {
      await live.send({ message, conversation_id: conv || undefined, turn_id: newTurnId() });
    } catch (err) {
      streamRef.current = null;
      setStreaming(null);
      setBusy(false);
      toast(say(err), { kind: 'error' });
    }
  };

  /** The structured answer to the pending action. */
  const answer = async (kind) => {
    if (!pending || !conv) return;
    setBusy(true);
    try {
      const out = await api.post('/chat', { conversation_id: conv, [kind]: { token: pending.token } });
      setTurns((ts) => [...ts,
        { role: 'user', text: kind === 'confirm' ? '(confirmed with the button)' : '(cancelled with the button)' },
        { role: 'assistant', text: out.answer, citations: out.citations, actions: out.actions }]);
      setPending(out.pending || null);
      loadList();
    } catch (err) {
      toast(say(err), { kind: 'error', title: 'Nothing was done' });
      if (err.status === 409) setPending(null);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (id) => {
    if (!confirm('Delete this conversation? Its turns are gone for good.')) return;
    try {
      await api.del(`/conversations/${id}`);
      if (id === conv) go('#/chat/new');
      loadList();
    } catch (err) { toast(say(err), { kind: 'error' }); }
  };

  const onKeyDown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) send(e);
  };

  const last = turns.length - 1;
  const shown = turns.map((t, i) => {
    if (t.stopped) return { ...t, showFull: () => setTurns((ts) => ts.map((x) => x === t ? { ...x, text: x.full, stopped: false } : x)) };
    // The card below the last answer shows the pending action with its buttons;
    // the answer's own plain-text rendering of it would say the same thing twice.
    if (pending && i === last && t.role !== 'user') return { ...t, text: withoutConfirmation(t.text || '') };
    return t;
  });
  return html`<div class="chat">
    <aside class=${'conversations' + (listOpen ? ' open' : '')} aria-label="Conversations">
      <div class="row mb8">
        <a class="btn primary small grow" href="#/chat/new"><${Icon} name="plus" /> New conversation</a>
      </div>
      ${conversations.length === 0 ? html`<p class="muted">No conversations yet.</p>` : html`<ul class="list">
        ${conversations.map((c) => html`<li class="row" key=${c.id}>
          <a class="grow" href=${'#/chat/' + c.id} aria-current=${c.id === conv ? 'true' : undefined} title=${c.title}>${c.title}</a>
          <button class="btn quiet icon-btn" onClick=${() => remove(c.id)} aria-label=${'Delete the conversation ' + c.title}><${Icon} name="trash" size=${16} /></button>
        </li>`)}</ul>`}
    </aside>
    <section aria-label="Conversation">
      <button class="btn small hide-desktop mb8" onClick=${() => setListOpen(!listOpen)} aria-expanded=${listOpen}>
        <${Icon} name="menu" /> Conversations</button>
      ${turns.length === 0 && !streaming && html`<div class="empty card">
        <h2>Ask about your documents</h2>
        <p>Answers cite the passages they come from. Try "Summarize my notes", "remind me tomorrow at 9am to call Ana", or "draft an email to ana@example.com about the trip".</p>
      </div>`}
      <div class="thread" aria-live="polite">
        ${shown.map((t, i) => html`<${Turn} key=${i} turn=${t} onOpen=${setSource} />`)}
        ${streaming && html`<div class="turn assistant">
          <div class="bubble" dangerouslySetInnerHTML=${{ __html: answerHtml(streaming.text || '…', []) }}></div>
          ${streaming.tools.length > 0 && html`<span class="typing">Using ${streaming.tools.join(', ')}…</span>`}
          ${streaming.stopped ? html`<span class="stopped">Stopped</span>` : html`<span class="typing">Writing… <kbd>Esc</kbd> stops</span>`}
        </div>`}
        ${pending && !streaming && html`<${PendingCard} pending=${pending} busy=${busy}
          onSend=${() => answer('confirm')} onCancel=${() => answer('decline')} />`}
        <div ref=${endRef}></div>
      </div>
      <div class="composer">
        <form onSubmit=${send}>
          <label class="sr-only" for="message">Message</label>
          <textarea id="message" ref=${inputRef} rows="2" placeholder="Ask Jarvis…" value=${text}
            onInput=${(e) => setText(e.target.value)} onKeyDown=${onKeyDown} maxlength="4000"></textarea>
          <button class="btn primary" type="submit" disabled=${busy || !text.trim()} aria-label="Send"><${Icon} name="send" /></button>
        </form>
      </div>
    </section>
    ${source && html`<${SourceViewer} api=${api} source=${source} onClose=${() => setSource(null)} />`}
  </div>`;
}
