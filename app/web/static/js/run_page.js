// The run page: load the run's data from /api, follow its server-sent events
// and redraw what changed, without reloading the page.
import { api } from "./api.js";
import { CandidatePanel, renderTable } from "./candidates_view.js";
import { FeedbackView } from "./feedback_view.js";
import { renderIterations } from "./iterations_view.js";
import { EvolutionChart } from "./run_charts.js";
import { TERMINAL, renderFinal, renderSummary, renderUsage } from "./run_summary.js";

const $ = (id) => document.getElementById(id);
const root = $("run-page");
const runId = root.dataset.runId;
const initial = JSON.parse($("run-data").textContent);
const base = `/api/runs/${encodeURIComponent(runId)}`;
// Every kind the worker and the API log; EventSource only delivers named events it listens for.
const EVENT_KINDS = [
  "run.created",
  "run.claimed",
  "run.status",
  "run.released",
  "run.result",
  "run.cancel_requested",
  "iteration.started",
  "iteration.prompt",
  "iteration.status",
  "iteration.done",
  "candidate.created",
  "candidate.status",
  "candidate.result",
  "feedback.waiting",
  "feedback.resumed",
  "feedback.added",
  "feedback.consumed",
  "candidate.duplicate",
];

const state = { run: initial.run, candidates: [] };
const higherIsBetter = initial.metric ? initial.metric.higher_is_better : true;

function notify(text, isError = false) {
  const line = $("action-status");
  line.textContent = text;
  line.classList.toggle("is-error", isError);
}

const feedback = new FeedbackView({ runId, notify, refresh: () => schedule() });
const panel = new CandidatePanel($("candidate-panel"), state.run.fitness_metric, {
  open: (id) => openCandidate(id),
  parent: (id) => feedback.useAsParent(id),
  note: (id) => feedback.noteAbout(id),
  compare: (side, id) => feedback.compare(side, id),
});
const chart = new EvolutionChart($("evolution-chart"), state.run.fitness_metric, (id) =>
  openCandidate(id),
);

function openCandidate(id) {
  history.replaceState(null, "", `#candidate-${id}`);
  panel.open(id).catch((error) => notify(error.message, true));
  renderTable($("candidates-table").tBodies[0], state.candidates, id, openCandidate);
}

async function load() {
  const [run, candidates, iterations, usage, sent] = await Promise.all([
    api(base),
    api(`${base}/candidates`),
    api(`${base}/iterations`),
    api(`${base}/usage`),
    api(`${base}/feedback`),
  ]);
  state.run = run;
  state.candidates = candidates.items;
  const finished = iterations.items.filter((it) =>
    ["done", "waiting_feedback"].includes(it.status),
  );
  renderSummary(run, state.candidates, finished.length ? finished.at(-1).index : null);
  const points = chart.update(run, state.candidates, higherIsBetter);
  $("evolution-empty").hidden = points > 0;
  renderTable($("candidates-table").tBodies[0], state.candidates, panel.id, openCandidate);
  $("candidates-empty").hidden = state.candidates.length > 0;
  renderIterations($("iterations-list"), iterations.items);
  renderUsage(usage);
  renderFinal(run, state.candidates);
  feedback.update(run, state.candidates, sent.items);
  await panel.reload();
}

// One refresh at a time; events that arrive meanwhile fold into one more.
let running = null;
let again = false;
let timer = null;

function schedule(delay = 150) {
  clearTimeout(timer);
  timer = setTimeout(refresh, delay);
}

async function refresh() {
  if (running) {
    again = true;
    return;
  }
  running = load()
    .catch((error) => notify(`Could not refresh: ${error.message}`, true))
    .finally(() => {
      running = null;
      if (again) {
        again = false;
        schedule();
      }
      finishIfDone();
    });
}

let source = null;

function finishIfDone() {
  if (source && TERMINAL.has(state.run.status)) {
    source.close();
    source = null;
    $("live-state").textContent = "finished";
  }
}

function follow() {
  source = new EventSource(`${base}/events`);
  source.addEventListener("open", () => {
    $("live-state").textContent = "live";
  });
  source.addEventListener("error", () => {
    // The server ends the stream once the run is over; otherwise the browser reconnects
    // by itself and resumes after the last event it saw (Last-Event-ID).
    if (TERMINAL.has(state.run.status)) finishIfDone();
    else $("live-state").textContent = "reconnecting…";
    schedule(500);
  });
  for (const kind of EVENT_KINDS) {
    source.addEventListener(kind, (event) => {
      $("live-state").textContent = "live";
      if (kind.startsWith("feedback.")) feedback.onEvent(kind, JSON.parse(event.data || "null"));
      schedule();
    });
  }
}

function runAction(path, done) {
  return api(`${base}/${path}`, { method: "POST" })
    .then(() => {
      notify(done);
      if (!source) follow();
      schedule(0);
    })
    .catch((error) => notify(error.message, true));
}

$("cancel-run").addEventListener("click", () =>
  runAction("cancel", "Cancel requested: the run stops within seconds."),
);
$("resume-run").addEventListener("click", () =>
  runAction("resume", "Queued again: it goes on where it stopped."),
);

const fromHash = /^#candidate-([A-Za-z0-9_-]+)$/.exec(location.hash);
if (fromHash) openCandidate(fromHash[1]);
refresh();
if (TERMINAL.has(state.run.status)) $("live-state").textContent = "finished";
else follow();
