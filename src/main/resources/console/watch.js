// Watch: a tuning job's progress, ETA and loss chart, polled from its operation twice a second until it is done; cancel.
import * as api from './api.js';
import { h, say } from './dom.js';
import { LossChart, epochMeans } from './chart.js';

function eta(snapshots, total) {
  if (snapshots.length < 2) return 'estimating…';
  const a = snapshots[0], b = snapshots[snapshots.length - 1];
  const perStep = (Date.parse(b.computeTime) - Date.parse(a.computeTime)) / Math.max(1, b.step - a.step);
  const left = Math.max(0, (total - b.step) * perStep / 1000);
  return left < 60 ? `${Math.round(left)} s` : `${Math.floor(left / 60)} min ${Math.round(left % 60)} s`;
}

export async function watchPage(show, id) {
  const model = await api.call('GET', `/v1beta/tunedModels/${id}`);
  const opName = (await api.call('GET', `/v1beta/tunedModels/${id}/operations`)).operations[0].name;
  const state = h('span', { id: 'state' }, model.state);
  const bar = h('progress', { id: 'progress', max: 100, value: 0, 'aria-label': 'Training progress' });
  const numbers = h('p', { id: 'progress-text' });
  const error = h('p', { id: 'error', class: 'bad', role: 'alert' });
  const means = h('p', { id: 'epoch-means', class: 'muted' });
  const chartBox = h('figure', { class: 'chart', id: 'loss-chart', 'aria-label': 'Loss per step and epoch means' });
  const cancel = h('button', {
    type: 'button', class: 'danger', id: 'cancel',
    onclick: async () => {
      if (!window.confirm(`Cancel tuning ${model.name}?`)) return;
      try { await api.call('POST', `/v1beta/${opName}:cancel`); say('Cancel requested'); } catch (e) { error.textContent = e.message; }
    },
  }, 'Cancel tuning');
  const tryLink = h('a', { href: `#/try?model=${encodeURIComponent(model.name)}`, hidden: true, id: 'try-link' }, 'Try it in the playground');
  show(`Watching ${model.displayName || id}`,
    h('p', {}, 'State: ', state), bar, numbers, error, chartBox, means, h('p', { class: 'row' }, cancel, tryLink));
  const chart = new LossChart(chartBox);
  let timer = null;
  let stopped = false;

  async function poll() {
    try {
      const op = await api.call('GET', `/v1beta/${opName}`);
      const m = op.metadata || {};
      const snapshots = m.snapshots || [];
      chart.update(snapshots);
      const done = m.completedSteps || 0;
      bar.value = m.completedPercent || 0;
      numbers.textContent = `${Math.floor(m.completedPercent || 0)}% — step ${done} of ${m.totalSteps}`
        + (op.done ? '' : ` — about ${eta(snapshots, m.totalSteps)} left`);
      means.textContent = epochMeans(snapshots).map(e => `epoch ${e.epoch}: mean loss ${e.mean.toFixed(4)}`).join(' · ');
      if (op.done) {
        const tuned = await api.call('GET', `/v1beta/tunedModels/${id}`);
        state.textContent = tuned.state;
        if (op.error) error.textContent = `Tuning failed: ${op.error.message}`;
        cancel.hidden = true;
        tryLink.hidden = tuned.state !== 'ACTIVE';
        say(`${model.name} is ${tuned.state}`);
        return;
      }
      state.textContent = 'CREATING';
    } catch (e) { error.textContent = e.message; }
    if (!stopped) timer = setTimeout(poll, 500);
  }
  await poll();
  return () => { stopped = true; clearTimeout(timer); chart.destroy(); };
}
