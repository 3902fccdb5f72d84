// Settings: your time zone (the browser's by default), where reminders reach
// you, and your data: export it, or delete it — after a confirmation that
// says exactly what goes.
import { html, toast, say, Dialog } from '../ui.js';
import { useEffect, useState } from '../../vendor/preact-hooks.mjs';
import { Icon } from '../icons.js';

/** Every zone the browser knows, plus the ones in play: Chromium's list leaves
 * out "UTC", and a zone saved elsewhere may be an alias it does not list. */
const zones = (...inPlay) => {
  const known = Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set([...inPlay.filter(Boolean), ...known])].sort();
};

export function Settings({ api, config }) {
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const [settings, setSettings] = useState(null);
  const [zone, setZone] = useState('');
  const [channel, setChannel] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [erasure, setErasure] = useState(null);
  const [exporting, setExporting] = useState(false);
  const cloud = config.auth && config.auth.mode === 'cognito';

  const load = async () => {
    try {
      const s = await api.get('/me/settings');
      setSettings(s);
      setZone(s.own_time_zone || browserZone);
      setChannel((cloud ? s.notify_email : s.webhook_url) || '');
    } catch (e) { toast(say(e), { kind: 'error' }); }
  };
  useEffect(() => { load(); }, []);

  const saveZone = async (e) => {
    e.preventDefault();
    try {
      await api.put('/me/settings', { time_zone: zone });
      toast(`Times are read and shown in ${zone}`);
      load();
    } catch (err) { toast(say(err), { kind: 'error', title: 'Not saved' }); }
  };

  const saveChannel = async (e) => {
    e.preventDefault();
    try {
      if (!channel.trim()) {
        await api.del('/me/notifications');
        toast('Reminders now reach only this app');
      } else {
        const r = await api.put('/me/notifications', cloud ? { email: channel.trim() } : { webhook_url: channel.trim() });
        toast(r.message || 'Saved');
      }
      load();
    } catch (err) { toast(say(err), { kind: 'error', title: 'Not saved' }); }
  };

  const notifyHere = async () => {
    if (!('Notification' in window)) return toast('This browser shows no notifications.');
    const p = await Notification.requestPermission();
    toast(p === 'granted' ? 'Reminders will also show as notifications while Jarvis is open.' : 'Notifications were not allowed.');
  };

  const exportData = async () => {
    setExporting(true);
    try {
      // A large export on AWS is a link to storage, which the browser
      // downloads by going there (a fetch may not follow it to another origin).
      const r = await fetch(api.url('/me/export?link=true'), { headers: await api.headers() });
      if (!r.ok) throw new Error(`the export failed (HTTP ${r.status})`);
      if ((r.headers.get('content-type') || '').startsWith('application/json')) {
        const { url } = await r.json();
        window.location.assign(url);
        toast('Your export is downloading');
        return;
      }
      const blob = await r.blob();
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `jarvis-export-${new Date().toISOString().slice(0, 10)}.zip`;
      document.body.appendChild(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      toast('Your export is downloading');
    } catch (e) { toast(say(e), { kind: 'error' }); } finally { setExporting(false); }
  };

  const erase = async () => {
    setConfirming(false);
    try {
      let e = await api.del('/me/data');
      setErasure(e);
      for (let i = 0; i < 600 && e.state === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        e = await api.get('/me/data/erasure');
        setErasure(e);
      }
      if (e.state === 'done') toast('Everything of yours is deleted');
      else if (e.state === 'failed') toast(e.last_error || 'The erasure failed; ask again.', { kind: 'error', title: 'Not finished' });
    } catch (err) { toast(say(err), { kind: 'error' }); }
  };

  if (!settings) return html`<p class="muted">Loading…</p>`;
  return html`<div class="stack">
    <form class="card stack" onSubmit=${saveZone} aria-labelledby="zone-h">
      <h2 id="zone-h">Time zone</h2>
      <p class="muted">"Tomorrow at 9am" is read in this zone. Now: ${settings.time_zone}${settings.own_time_zone ? '' : ' (the deployment\'s)'}.</p>
      <div class="row">
        <div class="grow"><label for="zone">Your time zone</label>
          <select id="zone" value=${zone} onChange=${(e) => setZone(e.target.value)}>
            ${zones(zone, browserZone, 'UTC').map((z) => html`<option value=${z}>${z}${z === browserZone ? ' (this browser)' : ''}</option>`)}
          </select></div>
        <button class="btn primary" type="submit">Save</button>
      </div>
    </form>
    <form class="card stack" onSubmit=${saveChannel} aria-labelledby="notify-h">
      <h2 id="notify-h">Where reminders reach you</h2>
      <p class="muted">Always here while Jarvis is open. ${cloud ? 'Also by e-mail (SNS asks the address to confirm first).' : 'Also as a POST of JSON to a webhook of yours.'} Leave empty to stop.</p>
      <div class="row">
        <div class="grow"><label for="channel">${cloud ? 'E-mail address' : 'Webhook URL'}</label>
          <input id="channel" type=${cloud ? 'email' : 'url'} value=${channel} onInput=${(e) => setChannel(e.target.value)} placeholder=${cloud ? 'you@example.com' : 'https://example.com/hook'} /></div>
        <button class="btn primary" type="submit">Save</button>
      </div>
      <div><button type="button" class="btn" onClick=${notifyHere}><${Icon} name="bell" /> Show browser notifications</button></div>
    </form>
    <section class="card stack" aria-labelledby="data-h">
      <h2 id="data-h">Your data</h2>
      <div class="row">
        <button class="btn" onClick=${exportData} disabled=${exporting}><${Icon} name="download" /> ${exporting ? 'Exporting…' : 'Export my data'}</button>
        <button class="btn danger" onClick=${() => setConfirming(true)}><${Icon} name="trash" /> Delete my data…</button>
      </div>
      ${erasure && html`<p role="status"><span class=${'badge ' + (erasure.state === 'done' ? 'done' : erasure.state === 'failed' ? 'failed' : 'processing')}>${erasure.state}</span>
        ${erasure.state === 'done' && html` Removed ${erasure.removed.documents} documents, ${erasure.removed.files} files, ${erasure.removed.records} records, ${erasure.removed.schedules} schedules.`}
        ${erasure.last_error && html` ${erasure.last_error}`}</p>`}
    </section>
    <${Dialog} open=${confirming} onClose=${() => setConfirming(false)} title="Delete everything of yours?" labelledBy="erase-title"
      footer=${html`<button class="btn" onClick=${() => setConfirming(false)}>Keep my data</button>
        <button class="btn danger" onClick=${erase}>Delete everything</button>`}>
      <p>This removes, for good:</p>
      <ul>
        <li>every document: the files you added and the mail you forwarded, their text, and their place in search;</li>
        <li>your conversations and what Jarvis remembers from them;</li>
        <li>your reminders (and their schedules), tasks and drafts;</li>
        <li>your settings and where reminders reach you.</li>
      </ul>
      <p>Only a receipt stays: when you asked, when it finished, and how many of each were removed. Export first if you want a copy.</p>
    <//>
  </div>`;
}
