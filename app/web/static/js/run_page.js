// The run page: load the run's data from /api, follow its server-sent events
// and redraw what changed, without reloading the page.
import { api } from "./api.js";
import { CandidatePanel, renderTable } from "./candidates_view.js";
import { FeedbackView } from "./feedback_view.js";
import { renderIterations } from "./iterations_view.js";
import { EvolutionChart } from "./run_charts.js";
import { TERMINAL, renderFinal, renderSummary, renderUsage } from "./run_summary.js";
import { TrainingEta } from "./training_eta.js";

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
  "candidate.progress",
  "candidate.rung",
  "halving.rung",
  "halving.cut",
  "llm.call",
  "run.reselected",
  "run.budget",
  "run.extended",
];
// Events that change only the candidates' rows and the run's progress: these refresh
// just those, not the prompts and usage (progress arrives every second per sandbox).
const ROW_EVENTS = new Set(["candidate.progress", "candidate.status"]);

const state = { run: initial.run, candidates: [], loaded: false };
const eta = new TrainingEta();
// What an action said it asked for, until the run shows it happened.
let awaiting = null;
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
  renderCandidates();
}

function renderCandidates() {
  const run = state.run;
  panel.timesteps = run.timesteps;
  renderTable(
    $("candidates-table").tBodies[0],
    state.candidates,
    panel.id,
    openCandidate,
    run.timesteps,
  );
  const empty = $("candidates-empty");
  empty.hidden = state.candidates.length > 0;
  empty.textContent = TERMINAL.has(run.status)
    ? "This run has no candidates."
    : run.status === "queued"
      ? "No candidates yet: the run waits for a worker."
      : "No candidates yet: the LLM is being asked.";
  $("eta-text").textContent = TERMINAL.has(run.status)
    ? ""
    : eta.text(state.candidates, run.timesteps);
}

/** Replace an action's notice once the run shows its outcome (or stopped without it). */
function settleAction() {
  if (!awaiting) return;
  const run = state.run;
  if (awaiting === "cancel" && TERMINAL.has(run.status)) {
    notify(run.status === "cancelled" ? "The run was cancelled." : `The run ${run.status}.`);
    awaiting = null;
  } else if (awaiting === "resume" && run.status !== "queued" && !TERMINAL.has(run.status)) {
    notify("Resumed: a worker took the run.");
    awaiting = null;
  } else if (awaiting === "extend" && run.status !== "queued" && !TERMINAL.has(run.status)) {
    notify(`Extended to ${run.iterations} iterations: a worker took the run.`);
    awaiting = null;
  }
}

/** Fetch and redraw; `full` false fetches only the run and its candidates. */
async function load(full = true) {
  if (!full) {
    const [run, candidates] = await Promise.all([api(base), api(`${base}/candidates`)]);
    state.run = run;
    state.candidates = candidates.items;
    renderSummary(run, state.candidates, null);
    renderCandidates();
    settleAction();
    await panel.reload();
    return;
  }
  const [run, candidates, iterations, usage, sent] = await Promise.all([
    api(base),
    api(`${base}/candidates`),
    api(`${base}/iterations`),
    api(`${base}/usage`),
    api(`${base}/feedback`),
  ]);
  state.run = run;
  state.candidates = candidates.items;
  state.loaded = true;
  const finished = iterations.items.filter((it) =>
    ["done", "waiting_feedback"].includes(it.status),
  );
  renderSummary(run, state.candidates, finished.length ? finished.at(-1).index : null);
  const points = chart.update(run, state.candidates, higherIsBetter);
  $("evolution-empty").hidden = points > 0;
  $("evolution-empty").textContent = "No candidate has a fitness yet.";
  renderCandidates();
  renderIterations($("iterations-list"), iterations.items);
  renderUsage(usage);
  renderFinal(run, state.candidates);
  feedback.update(run, state.candidates, sent.items);
  settleAction();
  await panel.reload();
}

// One refresh at a time; events that arrive meanwhile fold into one more.
let running = null;
let again = false;
let timer = null;

let wantFull = true;

function schedule(delay = 150, full = true) {
  wantFull = wantFull || full;
  clearTimeout(timer);
  timer = setTimeout(refresh, delay);
}

async function refresh() {
  if (running) {
    again = true;
    return;
  }
  const full = wantFull || !state.loaded;
  wantFull = false;
  running = load(full)
    .then(() => {
      if ($("action-status").textContent.startsWith("Could not refresh")) notify("");
    })
    .catch((error) => {
      wantFull = wantFull || full;
      notify(`Could not refresh: ${error.message}`, true);
    })
    .finally(() => {
      running = null;
      if (again) {
        again = false;
        schedule(150, false); // wantFull still says whether a full refresh was asked for
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
      schedule(150, !ROW_EVENTS.has(kind));
    });
  }
}

function runAction(path, done, body) {
  return api(`${base}/${path}`, { method: "POST", body })
    .then(() => {
      notify(done);
      awaiting = path;
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

const extendBy = () => Math.max(1, Math.round(Number($("extend-iterations").value)) || 1);
const more = (k) => `${k} more iteration${k === 1 ? "" : "s"}`;
$("extend-iterations").addEventListener("input", () => {
  $("extend-run").textContent = `Run ${more(extendBy())}`;
});
$("extend-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const k = extendBy();
  runAction("extend", `Queued again with ${more(k)}; the final evaluation runs again after them.`, {
    iterations: k,
  });
});

const fromHash = /^#candidate-([A-Za-z0-9_-]+)$/.exec(location.hash);
if (fromHash) openCandidate(fromHash[1]);
refresh();
if (TERMINAL.has(state.run.status)) $("live-state").textContent = "finished";
else follow();
