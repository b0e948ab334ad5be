// The compare page: pick candidates of one env (from one run or several), overlay
// a series of their training curves, and diff their code against the first one
// (the server puts both sides through ast.unparse, so formatting is no change).
import { api } from "./api.js";
import { codeBlock, diffBlock } from "./code_view.js";
import { CompareChart } from "./compare_chart.js";
import { PALETTE, candidateLabel, fillSelect, fmt, h, shortId } from "./dom.js";

const $ = (id) => document.getElementById(id);
const MAX = 8;
const start = JSON.parse($("compare-data").textContent);
const state = { ids: [...start.candidates], items: [], envId: null, runs: [] };

const chart = new CompareChart($("compare-chart"), (range) => {
  $("curve-reset").disabled = range === null;
  // The box being typed in keeps what the person types.
  for (const [id, value] of [
    ["curve-from", range?.[0]],
    ["curve-to", range?.[1]],
  ])
    if (document.activeElement !== $(id))
      $(id).value = value === undefined ? "" : Math.round(value);
});

function showError(message) {
  $("compare-error").hidden = !message;
  $("compare-error").textContent = message || "";
}

function say(text, isError = false) {
  $("pick-status").textContent = text;
  $("pick-status").classList.toggle("is-error", isError);
}

/** "iteration 1, sample 0 · #ab12cd" plus the run's task when the runs differ. */
function itemLabel(item) {
  const runs = new Set(state.items.map((i) => i.run_id));
  const label = candidateLabel(item);
  return runs.size > 1 ? `${label} (${item.task.slice(0, 40)})` : label;
}

function syncUrl() {
  const params = new URLSearchParams();
  for (const id of state.ids) params.append("candidate", id);
  if (!state.ids.length && $("pick-run").value) params.set("run", $("pick-run").value);
  history.replaceState(null, "", `/compare?${params}`);
}

async function loadRuns(envId, selected) {
  if (envId === state.envId && state.runs.length) return;
  state.envId = envId;
  const runs = await api(`/api/runs?env_id=${encodeURIComponent(envId)}&limit=100`);
  state.runs = runs.items;
  fillSelect(
    $("pick-run"),
    state.runs.map((r) => [r.id, `${r.task.slice(0, 60)} · ${r.id.slice(0, 6)}`]),
    { keep: false },
  );
  if (selected) $("pick-run").value = selected;
  $("compare-env").textContent =
    `Candidates of ${envId}, from this run or any other run on it (${state.runs.length} runs).`;
}

async function loadCandidates(runId) {
  const list = await api(`/api/runs/${encodeURIComponent(runId)}/candidates?kind=search`);
  const trained = list.items.filter((c) => ["done", "stopped"].includes(c.status));
  fillSelect(
    $("pick-candidate"),
    list.items
      .filter((c) => c.status !== "invalid")
      .map((c) => [c.id, `${candidateLabel(c)} · ${c.status} · fitness ${fmt(c.fitness)}`]),
    { keep: false },
  );
  return trained;
}

async function compare() {
  renderChosen();
  if (state.ids.length < 2) {
    state.items = state.ids.length ? state.items.filter((i) => i.id === state.ids[0]) : [];
    renderCurves();
    renderCode();
    return;
  }
  const query = state.ids.map((id) => `candidate=${encodeURIComponent(id)}`).join("&");
  try {
    const result = await api(`/api/compare?${query}`);
    state.items = result.items;
    showError("");
  } catch (error) {
    showError(error.message);
    return;
  }
  renderChosen();
  renderSeriesOptions();
  renderCurves();
  renderCode();
}

function swatch(color) {
  const mark = h("span", { className: "swatch", "aria-hidden": "true" });
  mark.style.backgroundColor = color; // CSSOM, which the page's style-src 'self' allows
  return mark;
}

function renderChosen() {
  const byId = new Map(state.items.map((i) => [i.id, i]));
  const rows = state.ids.map((id, n) => {
    const item = byId.get(id);
    const remove = h(
      "button",
      {
        type: "button",
        className: "link-button",
        "aria-label": `Remove ${id} from the comparison`,
      },
      "remove",
    );
    remove.addEventListener("click", () => {
      state.ids = state.ids.filter((other) => other !== id);
      syncUrl();
      compare();
    });
    return h(
      "li",
      {},
      swatch(PALETTE[n % PALETTE.length]),
      h(
        "a",
        { href: item ? `/runs/${item.run_id}#candidate-${id}` : "#" },
        item ? itemLabel(item) : id,
      ),
      item ? h("span", { className: "sub" }, ` · fitness ${fmt(item.fitness)}`) : "",
      n === 0 ? h("span", { className: "sub" }, " · the others are diffed against it") : "",
      " ",
      remove,
    );
  });
  $("chosen").replaceChildren(
    ...(rows.length ? rows : [h("li", { className: "muted" }, "none yet: add two or more")]),
  );
  $("pick-add").disabled = state.ids.length >= MAX;
}

function renderSeriesOptions() {
  const names = new Set();
  for (const item of state.items) {
    const stats = item.stats || {};
    for (const name of stats.component_names || []) names.add(name);
  }
  fillSelect($("curve-series"), [
    ["fitness", "fitness"],
    ["reward", "training reward (sum)"],
    ...[...names].map((name) => [`component:${name}`, `component: ${name}`]),
  ]);
}

function renderCurves() {
  const select = $("curve-series");
  const key = select.value || "fitness";
  const weight = Number($("curve-smooth").value);
  $("curve-smooth-value").textContent = weight.toFixed(2);
  const label = select.selectedOptions[0]?.textContent ?? key;
  // Short legend labels: a phone's legend cuts long ones.
  const items = state.items.map((item) => ({
    label: `${shortId(item.id)} (iteration ${item.iteration_index}, sample ${item.sample_index})`,
    stats: item.stats || {},
  }));
  const { points, hidden } = chart.update(items, {
    key,
    label:
      key === "fitness" && state.items[0] ? `fitness: ${state.items[0].fitness_metric}` : label,
    log: $("curve-log").checked,
    weight,
  });
  $("curves-empty").hidden = points > 0 || hidden > 0 || !state.items.length;
  $("curve-note").hidden = !hidden;
  $("curve-note").textContent = hidden
    ? `The log scale cannot show ${hidden} value${hidden === 1 ? "" : "s"} at or below zero.`
    : "";
}

function renderCode() {
  const [first, ...others] = state.items;
  if (!first || !others.length) {
    $("code-diffs").replaceChildren(
      h("p", { className: "empty" }, "Add two candidates to compare their code."),
    );
    return;
  }
  const parts = [
    h(
      "details",
      { className: "code-first" },
      h("summary", {}, `${itemLabel(first)}: the code everything is compared with`),
      first.code
        ? codeBlock(first.code, `code of ${first.id}`)
        : h("p", { className: "empty" }, "no code"),
    ),
  ];
  for (const item of others) {
    parts.push(h("h3", {}, `${itemLabel(first)} → ${itemLabel(item)}`));
    if (item.diff === null)
      parts.push(h("p", { className: "empty" }, "One of the two has no code."));
    else if (item.diff === "")
      parts.push(
        h("p", { className: "notice same-code" }, "The same code, once formatting is ignored."),
      );
    else parts.push(diffBlock(item.diff, `changes from ${first.id} to ${item.id}`));
  }
  $("code-diffs").replaceChildren(...parts);
}

$("pick-run").addEventListener("change", () => {
  loadCandidates($("pick-run").value).catch((error) => say(error.message, true));
  syncUrl();
});
$("pick-add").addEventListener("click", () => {
  const id = $("pick-candidate").value;
  if (!id) return say("Choose a candidate first.", true);
  if (state.ids.includes(id)) return say("That candidate is already in the comparison.", true);
  state.ids.push(id);
  say(`Added; ${state.ids.length} candidates compared.`);
  syncUrl();
  compare();
});
$("curve-series").addEventListener("change", renderCurves);
$("curve-log").addEventListener("change", renderCurves);
$("curve-smooth").addEventListener("input", renderCurves);
$("curve-reset").addEventListener("click", () => chart.zoom(null, null));
for (const id of ["curve-from", "curve-to"]) {
  $(id).addEventListener("change", () => {
    const [from, to] = [$("curve-from").value, $("curve-to").value].map((v) =>
      v === "" ? null : Number(v),
    );
    if (from === null && to === null) chart.zoom(null, null);
    else chart.zoom(from ?? 0, to ?? chart.chart.scales.x.max);
  });
}

/** Start from the URL: the candidates given, or a run's two best trained candidates. */
async function init() {
  let runId = start.run;
  if (state.ids.length) {
    const first = await api(`/api/candidates/${encodeURIComponent(state.ids[0])}`);
    runId = first.run_id;
  }
  if (!runId) {
    const recent = await api("/api/runs?limit=1");
    runId = recent.items[0]?.id;
    if (!runId) return say("No runs yet: start one, then compare its candidates.", true);
  }
  const run = await api(`/api/runs/${encodeURIComponent(runId)}`);
  await loadRuns(run.env_id, run.id);
  const trained = await loadCandidates(run.id);
  if (!state.ids.length) {
    // The run's best against the newest other trained candidate, to start with.
    const others = trained.filter((c) => c.id !== run.best_candidate_id).reverse();
    state.ids = [run.best_candidate_id, ...others.map((c) => c.id)].filter(Boolean).slice(0, 2);
    syncUrl();
  }
  await compare();
}

init().catch((error) => showError(error.message));
