// The run's status, progress, cost, the waiting banner, the final evaluation
// and the LLM usage table.
import { fmt, h, percent, statusBadge } from "./dom.js";
import { referenceLevels } from "./run_charts.js";

const $ = (id) => document.getElementById(id);
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export function renderSummary(run, candidates, lastWaiting) {
  $("run-status").replaceChildren(statusBadge(run.status));
  const p = run.progress;
  $("run-progress").max = p.candidates_total;
  $("run-progress").value = p.candidates_done;
  $("progress-text").textContent = `${p.candidates_done}/${p.candidates_total} trainings`;
  $("iterations-text").textContent = `${p.iterations_done}/${p.iterations_total}`;
  renderHeadline(run, candidates);
  $("normalized-score").textContent =
    run.env_reward_is_baseline === false ? "— (no human baseline)" : fmt(run.normalized_score, 3);
  $("tokens-text").textContent = fmt(run.cost.prompt_tokens + run.cost.completion_tokens);
  $("cost-text").textContent = `$${run.cost.cost_usd.toFixed(4)}`;
  $("run-error").hidden = !run.error;
  $("run-error").textContent = run.error ? `Error: ${run.error}` : "";
  $("cancel-run").hidden = TERMINAL.has(run.status) || run.cancel_requested;
  $("resume-run").hidden = !["failed", "cancelled"].includes(run.status);
  renderExtendForm(run);
  $("export-run").hidden = !run.best_candidate_id;
  const waiting = run.status === "waiting_feedback";
  const banner = $("feedback-banner");
  if (waiting && banner.hidden) $("continue-run").disabled = false;
  banner.hidden = !waiting;
  if (waiting && lastWaiting !== null) {
    $("banner-text").textContent =
      `Iteration ${lastWaiting} is done and the run waits for you. ` +
      "Compare the behaviours below, prefer one, write a note or choose a parent, then continue.";
  }
}

/** "Run K more iterations": for a run that has ended, while the maximum leaves room and
 * no budget stopped it (the API would refuse either). */
function renderExtendForm(run) {
  const form = $("extend-form");
  const room = Number(form.dataset.maxTotal) - run.iterations;
  form.hidden = !TERMINAL.has(run.status) || room < 1 || Boolean(run.budget_stop);
  $("extend-iterations").max = String(Math.max(1, room));
}

/** Mean ± standard deviation over seeds: "138.5 ± 12.1 (3 seeds)". */
export function spread(values) {
  const xs = (values || []).filter((v) => typeof v === "number" && Number.isFinite(v));
  if (!xs.length) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  const seeds = `${xs.length} seed${xs.length === 1 ? "" : "s"}`;
  return xs.length > 1 ? `${fmt(mean)} ± ${fmt(sd, 3)} (${seeds})` : `${fmt(mean)} (${seeds})`;
}

/** The headline: the best search fitness (one seed) until the final test has measured
 * the best reward over several seeds; then that mean and spread, beside the env's own
 * reward measured the same way. */
function renderHeadline(run, candidates) {
  const final = run.final?.candidate;
  const measured = final && Array.isArray(final.fitness) && final.fitness.length;
  $("best-label").textContent = measured ? "Final fitness" : "Search fitness (1 seed)";
  $("best-fitness").textContent = measured
    ? (spread(final.fitness) ?? fmt(final.mean))
    : fmt(run.best_fitness);
  $("best-fitness").title = measured
    ? `the best reward retrained on fresh seeds; its search run scored ${fmt(run.best_fitness)} on one seed`
    : "one training seed of the best candidate so far; the final test retrains it on fresh seeds";
  const env = run.final?.env;
  $("baseline-fitness").textContent =
    spread(env?.fitness) ?? fmt(env?.mean ?? referenceLevels(run, candidates).baseline);
}

const SOURCES = [
  ["candidate", "Best evolved reward"],
  ["env", "Env's own reward (human baseline)"],
  ["fitness", "Fitness as reward (sparse)"],
];

/** The final test: per reward source the fitness over seeds, and the normalised score. */
export function renderFinal(run, candidates) {
  const finals = candidates.filter((c) => c.kind === "final");
  const section = $("final-section");
  section.hidden = !finals.length && !Object.keys(run.final || {}).length;
  if (section.hidden) return;
  const rows = SOURCES.map(([source, label]) => {
    const summary = run.final?.[source];
    const seeds = finals.filter((c) => c.reward_source === source);
    const values = summary?.fitness ?? seeds.map((c) => c.fitness);
    const done = seeds.filter((c) =>
      ["done", "failed", "invalid", "stopped"].includes(c.status),
    ).length;
    const mean = summary?.mean ?? null;
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, label),
      h("td", { className: "num" }, fmt(mean)),
      h("td", {}, values.length ? values.map((v) => fmt(v)).join(", ") : "–"),
      h("td", { className: "num" }, percent(summary?.success_rate ?? null)),
      h("td", { className: "num" }, `${done}/${seeds.length || run.final_seeds}`),
    );
  });
  const score = run.normalized_score ?? run.final?.normalized_score ?? null;
  const noBaseline = run.env_reward_is_baseline === false;
  $("final-body").replaceChildren(
    h(
      "div",
      { className: "table-wrap" },
      h(
        "table",
        { className: "final-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Reward", "Mean fitness", "Fitness per seed", "Success", "Seeds done"].map((t, i) =>
              h("th", { scope: "col", className: i === 1 || i > 2 ? "num" : "" }, t),
            ),
          ),
        ),
        h("tbody", {}, rows),
      ),
    ),
    h(
      "p",
      { className: "score" },
      "Human-normalised score: ",
      h("strong", { id: "final-score" }, noBaseline ? "not computed" : fmt(score, 3)),
      noBaseline
        ? h(
            "span",
            { className: "sub" },
            " (the env's own reward does not pay for this task: compare with the sparse reward)",
          )
        : score === null
          ? h("span", { className: "sub" }, " (once every seed is done)")
          : h(
              "span",
              { className: "sub" },
              " (1 = as good as the env's own reward, 0 = as good as the sparse reward)",
            ),
    ),
  );
}

export function renderUsage(usage) {
  const t = usage.totals;
  if (!t.calls) {
    $("usage-body").replaceChildren(
      h("p", { className: "empty" }, "No LLM calls yet (the offline proposer makes none)."),
    );
    return;
  }
  const stats = [
    ["Calls", t.calls, `${t.cached_calls} from the store, ${t.failed_calls} failed`],
    ["Prompt tokens", fmt(t.prompt_tokens)],
    ["Completion tokens", fmt(t.completion_tokens)],
    ["Cost", `$${t.cost_usd.toFixed(4)}`],
    [
      "Waiting for the LLM",
      `${fmt(t.latency_s, 3)} s`,
      `mean ${fmt(t.mean_latency_s, 3)} s per call`,
    ],
  ];
  const calls = usage.calls.map((c) =>
    h(
      "tr",
      {},
      h("td", {}, c.iteration_index ?? "–"),
      h("td", {}, c.model),
      h("td", { className: "num" }, c.responses),
      h("td", { className: "num" }, fmt(c.prompt_tokens)),
      h("td", { className: "num" }, fmt(c.completion_tokens)),
      h("td", { className: "num" }, `$${c.cost_usd.toFixed(4)}`),
      h("td", { className: "num" }, `${fmt(c.latency_s, 3)} s`),
      h(
        "td",
        {},
        c.error
          ? h("span", { className: "error-kind" }, c.error)
          : c.cached
            ? "from the store"
            : "ok",
      ),
    ),
  );
  $("usage-body").replaceChildren(
    h(
      "dl",
      { className: "stats" },
      stats.map(([k, v, more]) =>
        h(
          "div",
          {},
          h("dt", {}, k),
          h("dd", {}, v, more ? h("span", { className: "more" }, more) : ""),
        ),
      ),
    ),
    h(
      "div",
      { className: "table-wrap" },
      h(
        "table",
        { className: "compact" },
        h("caption", { className: "visually-hidden" }, "LLM calls"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            [
              "Iteration",
              "Model",
              "Answers",
              "Prompt tokens",
              "Completion tokens",
              "Cost",
              "Latency",
              "Result",
            ].map((x, i) => h("th", { scope: "col", className: i >= 2 && i <= 6 ? "num" : "" }, x)),
          ),
        ),
        h("tbody", {}, calls),
      ),
    ),
  );
}
