// One series (fitness, training reward or a reward component) of several
// candidates over training, overlaid: drag to zoom into a range of env steps,
// a log scale, and TensorBoard-style exponential smoothing.
import { PALETTE, fmt } from "./dom.js";

/** Exponential moving average with TensorBoard's debiasing (weight 0: the data itself). */
export function smooth(points, weight) {
  if (!weight) return points;
  let last = 0;
  return points.map((p, i) => {
    last = last * weight + (1 - weight) * p.y;
    return { x: p.x, y: last / (1 - weight ** (i + 1)) };
  });
}

/** The series `key` ("fitness", "reward" or "component:<name>") of a candidate's statistics. */
export function seriesOf(stats, key) {
  const pick = key.startsWith("component:")
    ? (c) => c.components?.[key.slice("component:".length)]?.mean
    : (c) => c[key]?.mean;
  return (stats.checkpoints || [])
    .map((c) => ({ x: c.steps, y: pick(c) }))
    .filter((p) => typeof p.y === "number" && Number.isFinite(p.y));
}

// Draws the range being dragged over and turns it into the x axis's limits.
const rangeSelect = {
  id: "rangeSelect",
  afterEvent(chart, args) {
    const { event } = args;
    const area = chart.chartArea;
    const state = (chart.$range ||= { from: null, to: null });
    const inside = event.x >= area.left && event.x <= area.right;
    if (event.type === "mousedown" && inside) state.from = state.to = event.x;
    else if (event.type === "mousemove" && state.from !== null) {
      state.to = Math.min(Math.max(event.x, area.left), area.right);
      args.changed = true;
    } else if (event.type === "mouseup" && state.from !== null) {
      const [a, b] = [state.from, state.to].sort((p, q) => p - q);
      state.from = state.to = null;
      args.changed = true;
      if (b - a >= 8) chart.$onRange?.(a, b);
    } else if (event.type === "mouseout") state.from = state.to = null;
  },
  afterDraw(chart) {
    const state = chart.$range;
    if (!state || state.from === null || state.from === state.to) return;
    const { ctx, chartArea: area } = chart;
    ctx.save();
    ctx.fillStyle = "rgba(78, 121, 167, 0.18)";
    ctx.fillRect(
      Math.min(state.from, state.to),
      area.top,
      Math.abs(state.to - state.from),
      area.bottom - area.top,
    );
    ctx.restore();
  },
};

export class CompareChart {
  /** `onZoom(range)` gets the [from, to] env steps shown, or null for all of them. */
  constructor(canvas, onZoom) {
    this.onZoom = onZoom;
    this.range = null;
    this.chart = new window.Chart(canvas, {
      type: "line",
      data: { datasets: [] },
      plugins: [rangeSelect],
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        events: [
          "mousedown",
          "mousemove",
          "mouseup",
          "mouseout",
          "click",
          "touchstart",
          "touchmove",
        ],
        scales: {
          x: { type: "linear", title: { display: true, text: "env steps" } },
          y: { type: "linear", title: { display: true, text: "fitness" } },
        },
        plugins: {
          legend: { position: "bottom", labels: { usePointStyle: true, pointStyle: "line" } },
          tooltip: {
            callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt(ctx.raw.y)}` },
          },
        },
      },
    });
    // Functions in Chart.js options are "scriptable" (called to compute the option): keep
    // the callback on the chart itself.
    this.chart.$onRange = (from, to) => {
      const x = this.chart.scales.x;
      this.zoom(x.getValueForPixel(from), x.getValueForPixel(to));
    };
    canvas.addEventListener("dblclick", () => this.zoom(null, null));
  }

  /** Show env steps `from`..`to` only (null, null: everything). */
  zoom(from, to) {
    this.range = from === null ? null : [from, to];
    this.chart.options.scales.x.min = from ?? undefined;
    this.chart.options.scales.x.max = to ?? undefined;
    this.chart.update();
    this.onZoom(this.range);
  }

  /**
   * Draw series `key` of each item ({label, stats}) in its own colour.
   * Returns {points, hidden}: points drawn, and points a log scale cannot show (<= 0).
   */
  update(items, { key, label, log, weight }) {
    let hidden = 0;
    let points = 0;
    this.chart.data.datasets = items.map((item, i) => {
      let data = smooth(seriesOf(item.stats, key), weight);
      if (log) {
        const positive = data.filter((p) => p.y > 0);
        hidden += data.length - positive.length;
        data = positive;
      }
      points += data.length;
      const color = PALETTE[i % PALETTE.length];
      return {
        label: item.label,
        data,
        borderColor: color,
        backgroundColor: color,
        borderWidth: 2,
        pointRadius: 2.5,
      };
    });
    this.chart.options.scales.y.type = log ? "logarithmic" : "linear";
    this.chart.options.scales.y.title.text = label;
    this.chart.update();
    return { points, hidden };
  }
}
