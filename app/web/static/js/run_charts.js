// The run page's charts (Chart.js, vendored UMD build on window.Chart): the
// reward evolution across iterations, and one candidate's curves over training.
import { candidateLabel, fmt } from "./dom.js";

const COLORS = {
  candidate: "rgba(37, 99, 235, 0.75)",
  best: "#059669",
  baseline: "#b45309",
  sparse: "#7c3aed",
};
const SERIES = ["#2563eb", "#dc2626", "#0891b2", "#ca8a04", "#9333ea", "#db2777", "#4b5563"];
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

function bestSoFar(points, iterations, higherIsBetter) {
  const line = [];
  let best = null;
  for (let i = 0; i < iterations; i += 1) {
    for (const p of points.filter((q) => q.iteration === i)) {
      if (best === null || (higherIsBetter ? p.y > best : p.y < best)) best = p.y;
    }
    if (best !== null && points.some((q) => q.iteration <= i)) line.push({ x: i, y: best });
  }
  return line;
}

function levelLine(label, value, color, iterations) {
  const data =
    value === null
      ? []
      : [
          { x: -0.4, y: value },
          { x: iterations - 0.6, y: value },
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
              scale.ticks = Array.from({ length: this.iterations }, (_, i) => ({ value: i }));
            },
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

  update(run, candidates, higherIsBetter) {
    this.iterations = run.iterations;
    const spread = Math.min(0.12, 0.6 / Math.max(1, run.samples));
    const points = candidates
      .filter((c) => c.kind === "search" && typeof c.fitness === "number")
      .map((c) => ({
        x: c.iteration_index + (c.sample_index - (run.samples - 1) / 2) * spread,
        y: c.fitness,
        iteration: c.iteration_index,
        id: c.id,
        label: candidateLabel(c),
      }));
    const { baseline, sparse } = referenceLevels(run, candidates);
    this.chart.data.datasets = [
      {
        label: "candidates",
        data: points,
        backgroundColor: COLORS.candidate,
        pointRadius: 5,
        pointHoverRadius: 7,
      },
      {
        type: "line",
        label: "best so far",
        data: bestSoFar(points, run.iterations, higherIsBetter),
        borderColor: COLORS.best,
        backgroundColor: COLORS.best,
        stepped: "before",
        pointRadius: 3,
        borderWidth: 2,
        pointStyle: "line",
      },
      levelLine("env's own reward (human baseline)", baseline, COLORS.baseline, run.iterations),
      levelLine("fitness as reward (sparse)", sparse, COLORS.sparse, run.iterations),
    ];
    this.chart.options.scales.x.min = -0.5;
    this.chart.options.scales.x.max = run.iterations - 0.5;
    this.chart.update();
    return points.length;
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
