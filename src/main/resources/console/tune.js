// Tune: a base model, examples from a file or typed into the table (every bad row named before anything is sent),
// hyperparameters with the server's defaults and the step count they imply, then create.
import * as api from './api.js';
import { h, field, say } from './dom.js';
import { parseExamples, problemOf, impliedSteps } from './examples.js';

export async function tunePage(show) {
  const [limits, models] = await Promise.all([
    fetch('/console/settings').then(r => r.json()),
    api.call('GET', '/v1beta/models?pageSize=1000'),
  ]);
  let rows = [];
  const base = h('select', { name: 'baseModel' }, (models.models || []).map(m => h('option', { value: m.name }, `${m.name} — ${m.displayName}`)));
  const displayName = h('input', { type: 'text', name: 'displayName', value: 'console model' });
  const file = h('input', { type: 'file', name: 'examples', accept: '.csv,.jsonl,.json' });
  const epochs = h('input', { type: 'number', name: 'epochCount', min: 1, max: 1000, value: limits.defaultEpochCount });
  const batch = h('input', { type: 'number', name: 'batchSize', min: 1, max: 64, value: limits.defaultBatchSize });
  const rate = h('input', { type: 'number', name: 'learningRate', min: 0.000001, max: 1, step: 'any', value: limits.defaultLearningRate });
  const steps = h('p', { id: 'steps', 'aria-live': 'polite' });
  const problems = h('div', { id: 'problems', role: 'alert' });
  const tbody = h('tbody');
  const create = h('button', { type: 'submit', id: 'create' }, 'Tune');
  const message = h('p', { role: 'alert' });

  function check() {
    const bad = rows.map((r, i) => ({ r, i, why: problemOf(r, limits) })).filter(x => x.why);
    tbody.querySelectorAll('tr').forEach((tr, i) => tr.classList.toggle('bad-row', bad.some(b => b.i === i)));
    problems.replaceChildren(...(bad.length ? [h('div', { class: 'problems' },
      h('h2', {}, `${bad.length} row${bad.length > 1 ? 's' : ''} cannot be sent`),
      h('ul', {}, bad.map(b => h('li', { class: 'bad' }, `${b.r.source} ${b.r.line}: ${b.why}`))))] : []));
    const e = Number(epochs.value), b = Number(batch.value);
    steps.textContent = rows.length && e > 0 && b > 0
      ? `${rows.length} examples × ${e} epochs ÷ batch ${b} = ${impliedSteps(rows.length, e, b)} steps` : '';
    create.disabled = !rows.length || bad.length > 0 || rows.length > limits.maxExamples;
  }

  function cell(row, key, label) {
    const t = h('textarea', { 'aria-label': `${label}, ${row.source} ${row.line}`, 'data-key': key }, row[key]);
    t.addEventListener('input', () => { row[key] = t.value; delete row.error; check(); });
    return h('td', {}, t);
  }

  function render() {
    tbody.replaceChildren(...rows.map((row, i) => h('tr', {},
      h('th', { scope: 'row' }, `${row.source} ${row.line}`),
      cell(row, 'textInput', 'text_input'), cell(row, 'output', 'output'),
      h('td', {}, h('button', {
        type: 'button', class: 'secondary', 'aria-label': `Remove ${row.source} ${row.line}`,
        onclick: () => { rows.splice(i, 1); render(); },
      }, 'Remove')))));
    check();
  }

  file.addEventListener('change', async () => {
    const f = file.files[0];
    if (!f) return;
    try {
      const source = f.name.toLowerCase().endsWith('.json') ? 'example' : 'line';
      rows = parseExamples(f.name, await f.text()).map(r => ({ ...r, source }));
      say(`${rows.length} rows read from ${f.name}`);
    } catch (e) { rows = []; message.className = 'bad'; message.textContent = e.message; }
    render();
  });
  [epochs, batch].forEach(i => i.addEventListener('input', check));
  const add = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => {
      const line = rows.reduce((m, r) => Math.max(m, r.source === 'row' ? r.line : 0), 0) + 1;
      rows.push({ source: 'row', line, textInput: '', output: '' });
      render();
      tbody.lastElementChild.querySelector('textarea').focus();
    },
  }, 'Add a row');

  const form = h('form', {
    onsubmit: async e => {
      e.preventDefault();
      check();
      if (create.disabled) return;
      message.textContent = '';
      const body = {
        displayName: displayName.value, baseModel: base.value,
        tuningTask: {
          hyperparameters: { epochCount: Number(epochs.value), batchSize: Number(batch.value), learningRate: Number(rate.value) },
          trainingData: { examples: { examples: rows.map(r => ({ textInput: r.textInput, output: r.output })) } },
        },
      };
      try {
        create.disabled = true;
        const op = await api.call('POST', '/v1beta/tunedModels', body);
        say('Tuning started');
        location.hash = `#/watch/${op.metadata.tunedModel.split('/')[1]}`;
      } catch (err) { message.className = 'bad'; message.textContent = err.message; create.disabled = false; }
    },
  },
  field('Base model', base), field('Display name', displayName),
  field('Examples file', file, 'CSV with the header text_input,output; JSONL with one {"text_input", "output"} per line; or JSON.'),
  problems,
  h('div', { class: 'table-wrap' }, h('table', { id: 'examples' },
    h('caption', {}, 'Examples (edit any cell)'),
    h('thead', {}, h('tr', {}, ['Source', 'text_input', 'output', ''].map(t => h('th', { scope: 'col' }, t)))), tbody)),
  h('p', {}, add),
  h('h2', {}, 'Hyperparameters'),
  h('div', { class: 'row' }, field('Epochs', epochs), field('Batch size', batch), field('Learning rate', rate)),
  steps, h('p', {}, create), message);
  show('Tune a model', form);
  render();
}
