// The console's shell: sign-in, the project switcher, sign-out, and the hash routes of its pages.
import * as api from './api.js';
import { h, field, say } from './dom.js';
import { modelsPage, modelPage } from './models.js';
import { tunePage } from './tune.js';
import { watchPage } from './watch.js';
import { tryPage } from './try.js';
import { keysPage } from './keys.js';

const main = document.getElementById('main');
let leave = null;

function show(title, ...content) {
  main.replaceChildren(h('h1', {}, title), ...content);
}

function signInPage() {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  const id = h('input', { type: 'text', name: 'client_id', autocomplete: 'username', required: true });
  const secret = h('input', { type: 'password', name: 'client_secret', autocomplete: 'current-password', required: true });
  const file = h('input', { type: 'file', accept: '.json,application/json' });
  const error = h('p', { class: 'bad', role: 'alert' });
  file.addEventListener('change', async () => {
    try {
      const j = JSON.parse(await file.files[0].text());
      const c = j.installed || j.web || j;
      if (!c.client_id || !c.client_secret) throw new Error('the file has no client_id and client_secret');
      id.value = c.client_id;
      secret.value = c.client_secret;
    } catch (e) { error.textContent = `client_secret.json: ${e.message}`; }
  });
  const form = h('form', {
    onsubmit: async e => {
      e.preventDefault();
      error.textContent = '';
      try {
        await api.signIn(id.value.trim(), secret.value);
        secret.value = '';
        signedIn();
      } catch (err) { error.textContent = `Sign-in failed: ${err.message}`; }
    },
  },
  field('Client ID', id),
  field('Client secret', secret),
  field('Or read them from client_secret.json', file, 'The file that "tuneforge auth init" wrote; it stays in the browser.'),
  h('p', {}, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in')), error);
  const external = h('p', { hidden: true }, h('a', { href: '/console/oidc/start' }, 'Sign in with your organisation’s account'));
  show('Sign in to Tuneforge', external, h('p', {}, 'With an OAuth client of your project. The secret is exchanged on the server '
    + 'for a session; this page never keeps it.'), form);
  fetch('/console/settings').then(r => r.json()).then(s => { external.hidden = !s.externalSignIn; }).catch(() => {});
}

function signedIn() {
  const s = api.getSession();
  document.getElementById('nav').hidden = false;
  const who = document.getElementById('who');
  who.hidden = false;
  const select = document.getElementById('project');
  select.replaceChildren(...s.projects.map(p => h('option', { value: p }, p)));
  select.value = api.getProject();
  select.disabled = s.projects.length < 2;
  if (!location.hash || location.hash === '#/') location.hash = '#/models';
  else route();
}

async function route() {
  if (!api.getSession()) return;
  if (leave) { leave(); leave = null; }
  const [path, query] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  document.querySelectorAll('nav a').forEach(a => {
    if (a.getAttribute('href') === `#/${parts[0]}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  try {
    if (parts[0] === 'models' && parts[1]) leave = await modelPage(show, parts[1]);
    else if (parts[0] === 'tune') leave = await tunePage(show);
    else if (parts[0] === 'watch' && parts[1]) leave = await watchPage(show, parts[1]);
    else if (parts[0] === 'try') leave = await tryPage(show, params.get('model'));
    else if (parts[0] === 'keys') leave = await keysPage(show);
    else leave = await modelsPage(show);
  } catch (e) {
    show('Something went wrong', h('p', { class: 'bad', role: 'alert' }, e.message));
  }
  main.focus();
}

document.getElementById('project').addEventListener('change', e => {
  api.setProject(e.target.value);
  say(`Project ${e.target.value}`);
  route();
});
document.getElementById('sign-out').addEventListener('click', async () => {
  if (leave) { leave(); leave = null; }
  await api.signOut();
  say('Signed out');
  signInPage();
});
api.onSignedOut(() => { say('Your session has ended; sign in again.'); signInPage(); });
window.addEventListener('hashchange', route);

(async () => {
  if (await api.resume()) signedIn(); else signInPage();
})();
