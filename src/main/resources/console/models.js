// Tuned models: the paged, filterable list, and one model's details with rename/describe and delete.
import * as api from './api.js';
import { h, field, say } from './dom.js';

const PAGE_SIZE = 20;

function progressOf(model, op) {
  if (model.state !== 'CREATING' || !op) return model.state === 'ACTIVE' ? '100%' : '';
  const m = op.metadata || {};
  return `${Math.floor(m.completedPercent || 0)}% (${m.completedSteps || 0}/${m.totalSteps})`;
}

export async function modelsPage(show) {
  const filter = h('input', { type: 'search', name: 'filter', placeholder: 'words in name or description, or owner:me' });
  const body = h('tbody');
  const next = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Next page');
  const first = h('button', { type: 'button', class: 'secondary', disabled: true }, 'First page');
  let pageToken = null;

  async function load(token) {
    const q = new URLSearchParams({ pageSize: PAGE_SIZE });
    if (filter.value.trim()) q.set('filter', filter.value.trim());
    if (token) q.set('pageToken', token);
    const page = await api.call('GET', `/v1beta/tunedModels?${q}`);
    const models = page.tunedModels || [];
    const rows = await Promise.all(models.map(async m => {
      let op = null;
      if (m.state === 'CREATING') {
        try { op = (await api.call('GET', `/v1beta/${m.name}/operations`)).operations[0]; } catch { /* shown without */ }
      }
      const id = m.name.split('/')[1];
      return h('tr', {},
        h('td', {}, h('a', { href: `#/models/${id}` }, m.displayName || id), h('div', { class: 'muted' }, m.name)),
        h('td', {}, m.baseModel || m.tunedModelSource?.baseModel || ''),
        h('td', {}, m.state), h('td', {}, progressOf(m, op)),
        h('td', {}, new Date(m.createTime).toLocaleString()), h('td', {}, new Date(m.updateTime).toLocaleString()));
    }));
    body.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 6 }, 'No tuned models.'))]));
    pageToken = page.nextPageToken || null;
    next.disabled = !pageToken;
    first.disabled = !token;
    say(`${models.length} tuned models shown`);
  }

  next.addEventListener('click', () => load(pageToken));
  first.addEventListener('click', () => load(null));
  const form = h('form', { role: 'search', onsubmit: e => { e.preventDefault(); load(null); } },
    h('div', { class: 'row' }, field('Filter', filter), h('div', {}, h('button', { type: 'submit' }, 'Filter'))));
  show('Tuned models', h('p', {}, h('a', { href: '#/tune' }, 'Tune a new model')), form,
    h('div', { class: 'table-wrap' }, h('table', { id: 'models' },
      h('thead', {}, h('tr', {}, ['Name', 'Base model', 'State', 'Progress', 'Created', 'Updated'].map(t => h('th', { scope: 'col' }, t)))),
      body)),
    h('p', { class: 'row' }, first, next));
  await load(null);
}

export async function modelPage(show, id) {
  const m = await api.call('GET', `/v1beta/tunedModels/${id}`);
  const hp = m.tuningTask?.hyperparameters || {};
  const snapshots = m.tuningTask?.snapshots || [];
  const name = h('input', { type: 'text', name: 'displayName', value: m.displayName || '' });
  const description = h('textarea', { name: 'description' }, m.description || '');
  const message = h('p', { role: 'alert' });
  const save = h('form', {
    onsubmit: async e => {
      e.preventDefault();
      try {
        await api.call('PATCH', `/v1beta/tunedModels/${id}?updateMask=displayName,description`,
          { displayName: name.value, description: description.value });
        message.className = '';
        message.textContent = 'Saved.';
      } catch (err) { message.className = 'bad'; message.textContent = err.message; }
    },
  }, h('h2', {}, 'Rename or describe'), field('Display name', name), field('Description', description),
  h('p', {}, h('button', { type: 'submit' }, 'Save')));
  const del = h('button', {
    type: 'button', class: 'danger',
    onclick: async () => {
      if (!window.confirm(`Delete ${m.name}? Its adapter is removed and cannot be brought back.`)) return;
      try {
        await api.call('DELETE', `/v1beta/tunedModels/${id}`);
        say(`${m.name} deleted`);
        location.hash = '#/models';
      } catch (err) { message.className = 'bad'; message.textContent = err.message; }
    },
  }, 'Delete…');
  const last = snapshots.slice(-5);
  show(m.displayName || id,
    h('dl', {},
      h('dt', {}, 'Name'), h('dd', {}, m.name),
      h('dt', {}, 'Base model'), h('dd', {}, m.baseModel || m.tunedModelSource?.baseModel || ''),
      h('dt', {}, 'State'), h('dd', { id: 'model-state' }, m.state),
      m.error ? [h('dt', {}, 'Error'), h('dd', { class: 'bad' }, m.error.message)] : null,
      h('dt', {}, 'Created'), h('dd', {}, m.createTime), h('dt', {}, 'Updated'), h('dd', {}, m.updateTime),
      h('dt', {}, 'Epochs'), h('dd', {}, hp.epochCount), h('dt', {}, 'Batch size'), h('dd', {}, hp.batchSize),
      h('dt', {}, 'Learning rate'), h('dd', {}, hp.learningRate ?? `× ${hp.learningRateMultiplier}`),
      h('dt', {}, 'Snapshots'), h('dd', {}, snapshots.length)),
    h('p', { class: 'row' }, h('a', { href: `#/watch/${id}` }, 'Watch training'),
      m.state === 'ACTIVE' ? h('a', { href: `#/try?model=${encodeURIComponent(m.name)}` }, 'Try it') : null),
    last.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, 'Last snapshots'),
      h('thead', {}, h('tr', {}, ['Step', 'Epoch', 'Mean loss', 'Time'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, last.map(s => h('tr', {}, h('td', {}, s.step), h('td', {}, s.epoch),
        h('td', {}, s.meanLoss.toFixed(4)), h('td', {}, s.computeTime)))))) : null,
    save, h('h2', {}, 'Delete'), h('p', {}, del), message);
}
