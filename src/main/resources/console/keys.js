// API keys of the chosen project: create (the key shown once), list, revoke.
import * as api from './api.js';
import { h, field, say } from './dom.js';

export async function keysPage(show) {
  const name = h('input', { type: 'text', name: 'displayName', value: 'console key' });
  const created = h('div', { id: 'created-key', 'aria-live': 'polite' });
  const body = h('tbody');
  const error = h('p', { class: 'bad', role: 'alert' });

  async function load() {
    const keys = (await api.call('GET', '/v1beta/apiKeys')).keys || [];
    body.replaceChildren(...keys.map(k => h('tr', { 'data-key': k.name },
      h('td', {}, k.displayName || ''), h('td', {}, k.name), h('td', {}, k.createTime),
      h('td', {}, k.revokeTime ? `revoked ${k.revokeTime}` : h('button', {
        type: 'button', class: 'danger', 'aria-label': `Revoke ${k.name}`,
        onclick: async () => {
          if (!window.confirm(`Revoke ${k.name}? Calls with it stop working at once.`)) return;
          try { await api.call('DELETE', `/v1beta/${k.name}`); say(`${k.name} revoked`); await load(); } catch (e) { error.textContent = e.message; }
        },
      }, 'Revoke')))));
  }

  const form = h('form', {
    onsubmit: async e => {
      e.preventDefault();
      try {
        const k = await api.call('POST', '/v1beta/apiKeys', { displayName: name.value });
        created.replaceChildren(h('p', {}, `${k.name} — copy the key now; it is not shown again:`),
          h('p', { class: 'secret', id: 'key-string' }, k.keyString));
        await load();
      } catch (err) { error.textContent = err.message; }
    },
  }, h('div', { class: 'row' }, field('Display name', name), h('div', {}, h('button', { type: 'submit', id: 'create-key' }, 'Create key'))));
  show(`API keys of ${api.getProject()}`, form, created, error,
    h('div', { class: 'table-wrap' }, h('table', { id: 'keys' },
      h('thead', {}, h('tr', {}, ['Display name', 'Name', 'Created', ''].map(t => h('th', { scope: 'col' }, t)))), body)));
  await load();
}
