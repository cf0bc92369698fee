// The loss chart of a tuning job (uPlot from its WebJar): the loss of every step, and each epoch's mean loss.
import uPlot from '/webjars/uplot/1.6.30/dist/uPlot.esm.js';

/** Steps, their losses, and for each step the mean loss of its epoch so far. */
export function series(snapshots) {
  const steps = [], losses = [], means = [];
  const sums = new Map();
  for (const s of snapshots) {
    const e = sums.get(s.epoch) || { sum: 0, n: 0 };
    e.sum += s.meanLoss; e.n++;
    sums.set(s.epoch, e);
  }
  for (const s of snapshots) {
    const e = sums.get(s.epoch);
    steps.push(s.step); losses.push(s.meanLoss); means.push(e.sum / e.n);
  }
  return [steps, losses, means];
}

export function epochMeans(snapshots) {
  const sums = new Map();
  for (const s of snapshots) {
    const e = sums.get(s.epoch) || { sum: 0, n: 0 };
    e.sum += s.meanLoss; e.n++;
    sums.set(s.epoch, e);
  }
  return [...sums.entries()].map(([epoch, e]) => ({ epoch, mean: e.sum / e.n }));
}

export class LossChart {
  constructor(container) {
    this.container = container;
    this.plot = new uPlot({
      width: this.width(), height: 280,
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, { label: 'loss' }],
      series: [
        { label: 'step' },
        { label: 'loss', stroke: '#0b57d0', width: 1.5, points: { show: true, size: 4 } },
        { label: 'epoch mean', stroke: '#b06000', width: 2, dash: [6, 4], paths: uPlot.paths.stepped({ align: 1 }) },
      ],
    }, [[], [], []], container);
    this.onResize = () => this.plot.setSize({ width: this.width(), height: 280 });
    window.addEventListener('resize', this.onResize);
  }

  width() { return Math.max(280, Math.min(this.container.clientWidth || 600, 900)); }

  update(snapshots) {
    this.plot.setData(series(snapshots));
    this.container.dataset.points = String(snapshots.length);
  }

  destroy() { window.removeEventListener('resize', this.onResize); this.plot.destroy(); }
}
