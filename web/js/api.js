// The one module that talks to Jarvis's API (its shapes: GET /openapi.json).
// Every call carries the access token; every error comes back as an
// ApiError with the server's words.

/** An answer other than 2xx: `status`, the server's `code` and `message`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  /**
   * @param {{api_url: string, ws_url: string}} config where the API is ('' = this origin)
   * @param {{token: () => Promise<string|null>, signedOut: () => void}} auth
   */
  constructor(config, auth) {
    this.base = (config.api_url || '').replace(/\/$/, '');
    this.wsBase = config.ws_url || '';
    this.auth = auth;
  }

  url(path) {
    return this.base + path;
  }

  async headers(extra = {}) {
    const token = await this.auth.token();
    return token ? { Authorization: `Bearer ${token}`, ...extra } : { ...extra };
  }

  /** A JSON call; `body` is sent as JSON when given. */
  async json(method, path, body, { headers = {} } = {}) {
    const init = { method, headers: await this.headers(headers) };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(this.url(path), init);
    return this.answer(r);
  }

  async answer(r) {
    if (r.status === 401) {
      this.auth.signedOut();
      throw new ApiError(401, 'unauthorized', 'You are signed out. Sign in again.');
    }
    const text = await r.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    if (!r.ok) {
      const e = (body && body.error) || {};
      throw new ApiError(r.status, e.code || 'error', e.message || text || `HTTP ${r.status}`);
    }
    return body;
  }

  get(path) { return this.json('GET', path); }
  post(path, body) { return this.json('POST', path, body === undefined ? {} : body); }
  put(path, body) { return this.json('PUT', path, body); }
  patch(path, body) { return this.json('PATCH', path, body); }
  del(path) { return this.json('DELETE', path); }

  /**
   * Uploads one file with progress: small files in the request itself
   * (`POST /documents?name=`), large ones straight to storage through a
   * pre-signed URL (`POST /uploads`, then the PUT). Resolves to
   * `{document_id, key, duplicate_of?, status?}`.
   */
  async upload(file, onProgress, { direct = 4 * 1024 * 1024 } = {}) {
    if (file.size > direct) {
      const ticket = await this.post('/uploads', {
        name: file.name,
        content_type: file.type || guessType(file.name),
        size: file.size,
      });
      const headers = Object.fromEntries(ticket.upload.headers.filter(([k]) => k.toLowerCase() !== 'content-length'));
      const put = await send('PUT', ticket.upload.url, headers, file, onProgress);
      if (put.status < 200 || put.status >= 300) {
        let message = `the upload was refused (HTTP ${put.status})`;
        try { message = JSON.parse(put.text).error.message || message; } catch { /* S3 answers XML */ }
        throw new ApiError(put.status, 'upload', message);
      }
      return { document_id: ticket.document_id, key: ticket.key, status: 'queued' };
    }
    const headers = await this.headers({ 'Content-Type': file.type || 'application/octet-stream' });
    const path = `/documents?name=${encodeURIComponent(file.name)}`;
    const { status, text } = await send('POST', this.url(path), headers, file, onProgress);
    let body = null;
    try { body = JSON.parse(text); } catch { body = null; }
    if (status === 401) this.auth.signedOut();
    if (status < 200 || status >= 300) {
      const e = (body && body.error) || {};
      throw new ApiError(status, e.code, e.message || `HTTP ${status}`);
    }
    return body;
  }

  /** The chat stream's WebSocket (the token in the query: browsers cannot set headers on one). */
  async socket() {
    const token = await this.auth.token();
    let base = this.wsBase;
    if (!base) {
      const origin = this.base || window.location.origin;
      base = origin.replace(/^http/, 'ws') + '/chat/stream';
    }
    const sep = base.includes('?') ? '&' : '?';
    return new WebSocket(`${base}${sep}token=${encodeURIComponent(token || '')}`);
  }
}

/** The type a name says, for a file the browser could not type. */
export function guessType(name) {
  const ext = (name.split('.').pop() || '').toLowerCase();
  return {
    pdf: 'application/pdf', md: 'text/markdown', markdown: 'text/markdown', txt: 'text/plain',
    html: 'text/html', htm: 'text/html', json: 'application/json', csv: 'text/csv', eml: 'message/rfc822',
    docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', mp3: 'audio/mpeg', wav: 'audio/wav', m4a: 'audio/mp4',
  }[ext] || 'application/octet-stream';
}

/** An XHR (fetch cannot report upload progress): resolves `{status, text}`. */
function send(method, url, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open(method, url);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => e.lengthComputable && onProgress && onProgress(e.loaded / e.total);
    x.onload = () => resolve({ status: x.status, text: x.responseText });
    x.onerror = () => reject(new ApiError(0, 'network', 'The upload could not reach Jarvis.'));
    x.send(body);
  });
}
