// Calls the same /v1beta API as any client. The session cookie (HttpOnly) carries the identity; state-changing calls
// add the session's CSRF token, and every call names the chosen project.
let session = null;
let project = null;
const listeners = [];

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export function setSession(s) { session = s; project = s && s.projects.length ? s.projects[0] : null; }
export function getSession() { return session; }
export function setProject(p) { project = p; }
export function getProject() { return project; }
/** Called with the ApiError when a call finds the session gone (401). */
export function onSignedOut(fn) { listeners.push(fn); }

function headers(method, json) {
  const out = {};
  if (json) out['Content-Type'] = 'application/json';
  if (project) out['x-goog-user-project'] = project;
  if (method !== 'GET' && session) out['X-CSRF-Token'] = session.csrfToken;
  return out;
}

async function failure(r) {
  const text = await r.text();
  let message = text || r.statusText;
  try {
    const j = JSON.parse(text);
    message = (j.error && j.error.message) || j.error_description || message;
  } catch { /* not JSON */ }
  const e = new ApiError(r.status, message);
  if (r.status === 401 && session) listeners.forEach(fn => fn(e));
  return e;
}

export async function call(method, path, body) {
  const r = await fetch(path, {
    method, headers: headers(method, body !== undefined), credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw await failure(r);
  const text = await r.text();
  return text ? JSON.parse(text) : {};
}

/** POSTs to a streaming method with alt=sse and hands each parsed event to onEvent. */
export async function stream(path, body, onEvent) {
  const r = await fetch(`${path}?alt=sse`, {
    method: 'POST', headers: headers('POST', true), credentials: 'same-origin', body: JSON.stringify(body),
  });
  if (!r.ok) throw await failure(r);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value.replaceAll('\r\n', '\n');
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event.split('\n').filter(l => l.startsWith('data:')).map(l => l.slice(5).trim()).join('');
      if (data) onEvent(JSON.parse(data));
    }
  }
}

export async function signIn(clientId, clientSecret) {
  const r = await fetch('/console/session', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret }),
  });
  if (!r.ok) throw await failure(r);
  setSession(await r.json());
  return session;
}

export async function resume() {
  const r = await fetch('/console/session', { credentials: 'same-origin' });
  if (!r.ok) return null;
  setSession(await r.json());
  return session;
}

export async function signOut() {
  await fetch('/console/session', { method: 'DELETE', credentials: 'same-origin', headers: headers('DELETE', false) });
  session = null;
  project = null;
}
