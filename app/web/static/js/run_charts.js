// The run page's charts (Chart.js, vendored UMD build on window.Chart): the
// reward evolution across iterations, and one candidate's curves over training.
import { PALETTE, candidateLabel, fmt } from "./dom.js";

const COLORS = {
  candidate: "rgba(37, 99, 235, 0.75)",
  final: "#0f766e",
  best: "#059669",
  baseline: "#b45309",
  sparse: "#7c3aed",
};
// Reward components: ten distinct colours, less the green the fitness line is drawn in.
const SERIES = PALETTE.filter((color) => color !== "#59a14f");
// Axis text, grid lines and the reward's own line in the page's colours (light or dark).
const PAGE = getComputedStyle(document.documentElement);
const TEXT = PAGE.getPropertyValue("--text").trim() || "#111827";
window.Chart.defaults.color = PAGE.getPropertyValue("--muted").trim() || "#666";
window.Chart.defaults.borderColor = PAGE.getPropertyValue("--line").trim() || "rgba(0,0,0,0.1)";

function mean(values) {
  const finite = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null;
}

/** The env's own reward and the sparse reward: the run's numbers, or the seeds so far. */
export function referenceLevels(run, candidates) {
  const finals = (source) =>
    mean(
      candidates
        .filter((c) => c.kind === "final" && c.reward_source === source)
        .map((c) => c.fitness),
    );
  return {
    baseline: run.baseline_fitness ?? finals("env"),
    sparse: run.sparse_fitness ?? finals("fitness"),
  };
}

/** The best full-budget fitness up to each iteration that has one, and no further:
 * iterations not yet run have no best so far. */
function bestSoFar(points, higherIsBetter) {
  const line = [];
  let best = null;
  const last = Math.max(-1, ...points.map((p) => p.iteration));
  for (let i = 0; i <= last; i += 1) {
    for (const p of points.filter((q) => q.iteration === i)) {
      if (best === null || (higherIsBetter ? p.y > best : p.y < best)) best = p.y;
    }
    if (best !== null) line.push({ x: i, y: best });
  }
  return line;
}

function levelLine(label, value, color, columns) {
  const data =
    value === null
      ? []
      : [
          { x: -0.4, y: value },
          { x: columns - 0.6, y: value },
        ];
  return {
    type: "line",
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderDash: [6, 4],
    borderWidth: 2,
    pointRadius: 0,
    pointStyle: "line",
    hidden: value === null,
  };
}

export class EvolutionChart {
  /** `onPick(candidateId)` runs when a dot is clicked. */
  constructor(canvas, metricName, onPick) {
    this.iterations = 1;
    this.columns = 1; // the iterations, and a "final" column once the final test trains
    this.chart = new window.Chart(canvas, {
      type: "scatter",
      data: { datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: {
            type: "linear",
            title: { display: true, text: "iteration" },
            // One tick per iteration, whatever padding the axis has.
            afterBuildTicks: (scale) => {
              scale.ticks = Array.from({ length: this.columns }, (_, i) => ({ value: i }));
            },
            ticks: { callback: (value) => (value === this.iterations ? "final" : value) },
          },
          y: { title: { display: true, text: metricName || "fitness" } },
        },
        plugins: {
          legend: {
            position: "bottom",
            labels: {
              usePointStyle: true,
              filter: (item, data) => data.datasets[item.datasetIndex].data.length > 0,
            },
          },
          tooltip: {
            callbacks: {
              label: (ctx) => `${ctx.raw.label || ctx.dataset.label}: ${fmt(ctx.raw.y)}`,
            },
          },
        },
        onClick: (event, elements) => {
          const hit = elements.find(
            (e) => this.chart.data.datasets[e.datasetIndex].data[e.index]?.id,
          );
          if (hit) onPick(this.chart.data.datasets[hit.datasetIndex].data[hit.index].id);
        },
      },
    });
  }

  /** Redraw; returns how many points it plots. Candidates stopped by successive
   * halving are hollow (a partial result), the final test's seeds sit in a column
   * of their own after the last iteration. */
  update(run, candidates, higherIsBetter) {
    this.iterations = run.iterations;
    const spread = Math.min(0.12, 0.6 / Math.max(1, run.samples));
    const point = (c, x, label) => ({
      x,
      y: c.fitness,
      iteration: c.iteration_index,
      id: c.id,
      label,
    });
    const scored = candidates.filter((c) => typeof c.fitness === "number");
    const search = scored.filter((c) => c.kind === "search");
    const at = (c) => c.iteration_index + (c.sample_index - (run.samples - 1) / 2) * spread;
    const full = search
      .filter((c) => c.status !== "stopped")
      .map((c) => point(c, at(c), candidateLabel(c)));
    const partial = search
      .filter((c) => c.status === "stopped")
      .map((c) => {
        const share = c.halving?.budget && run.timesteps ? c.halving.budget / run.timesteps : null;
        const where = share === null ? "stopped early" : `stopped at ${Math.round(share * 100)}%`;
        return point(c, at(c), `${candidateLabel(c)} (${where})`);
      });
    const seeds = scored.filter((c) => c.kind === "final" && c.reward_source === "candidate");
    const finals = seeds.map((c, i) =>
      point(c, run.iterations + (i - (seeds.length - 1) / 2) * 0.08, candidateLabel(c)),
    );
    const finalMean = run.final?.candidate?.mean;
    this.columns = run.iterations + (seeds.length || typeof finalMean === "number" ? 1 : 0);
    const { baseline, sparse } = referenceLevels(run, candidates);
    this.chart.data.datasets = [
      {
        label: "candidates (1 search seed)",
        data: full,
        backgroundColor: COLORS.candidate,
        pointRadius: 5,
        pointHoverRadius: 7,
      },
      {
        label: "stopped early by halving (partial)",
        data: partial,
        backgroundColor: "transparent",
        borderColor: COLORS.candidate,
        borderWidth: 2,
        pointRadius: 5,
        pointHoverRadius: 7,
      },
      {
        type: "line",
        label: "best so far",
        data: bestSoFar(full, higherIsBetter),
        borderColor: COLORS.best,
        backgroundColor: COLORS.best,
        stepped: "before",
        pointRadius: 3,
        borderWidth: 2,
        pointStyle: "line",
      },
      {
        label: "final test: best reward, each seed",
        data: finals,
        backgroundColor: COLORS.final,
        pointStyle: "rectRot",
        pointRadius: 6,
        pointHoverRadius: 8,
      },
      {
        label: "final test: mean over seeds",
        data:
          typeof finalMean === "number"
            ? [{ x: run.iterations, y: finalMean, label: "final mean over seeds" }]
            : [],
        backgroundColor: COLORS.final,
        borderColor: COLORS.final,
        pointStyle: "line",
        pointRadius: 14,
        borderWidth: 3,
      },
      levelLine("env's own reward (human baseline)", baseline, COLORS.baseline, this.columns),
      levelLine("fitness as reward (sparse)", sparse, COLORS.sparse, this.columns),
    ];
    this.chart.options.scales.x.min = -0.5;
    this.chart.options.scales.x.max = this.columns - 0.5;
    this.chart.update();
    return full.length + partial.length + finals.length;
  }
}

function checkpointSeries(checkpoints, pick) {
  return checkpoints
    .map((c) => ({ x: c.steps, y: pick(c) }))
    .filter((p) => typeof p.y === "number" && Number.isFinite(p.y));
}

/** Reward components, total reward and fitness (right axis) over the training checkpoints. */
export function curvesChart(canvas, stats, metricName) {
  const checkpoints = (stats.checkpoints || []).filter((c) => c.reward);
  if (!checkpoints.length) return null;
  const names = stats.component_names || Object.keys(checkpoints.at(-1).components || {});
  const datasets = names.map((name, i) => ({
    label: `component: ${name}`,
    data: checkpointSeries(checkpoints, (c) => c.components?.[name]?.mean),
    borderColor: SERIES[i % SERIES.length],
    backgroundColor: SERIES[i % SERIES.length],
    borderWidth: 1.5,
    pointRadius: 2,
    yAxisID: "y",
  }));
  datasets.push(
    {
      label: "training reward (sum)",
      data: checkpointSeries(checkpoints, (c) => c.reward?.mean),
      borderColor: TEXT,
      backgroundColor: TEXT,
      borderWidth: 2,
      pointRadius: 2,
      yAxisID: "y",
    },
    {
      label: `fitness: ${metricName}`,
      data: checkpointSeries(checkpoints, (c) => c.fitness?.mean),
      borderColor: COLORS.best,
      backgroundColor: COLORS.best,
      borderDash: [5, 3],
      borderWidth: 2.5,
      pointRadius: 3,
      yAxisID: "y1",
    },
  );
  return new window.Chart(canvas, {
    type: "line",
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: "linear", title: { display: true, text: "env steps" } },
        y: { title: { display: true, text: "episode return (mean)" } },
        y1: {
          position: "right",
          title: { display: true, text: "fitness" },
          grid: { drawOnChartArea: false },
        },
      },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true, pointStyle: "line" } },
      },
    },
  });
}
