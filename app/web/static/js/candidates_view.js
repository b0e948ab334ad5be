// The candidates table and the detail panel of the candidate that is open:
// its code, diff against the parent, curves over training, video and response.
import { api } from "./api.js";
import { codeBlock, diffBlock } from "./code_view.js";
import { candidateLabel, fmt, h, percent, shortId, statusBadge } from "./dom.js";
import { curvesChart } from "./run_charts.js";

const ORDER = { search: 0, reselect: 1, final: 2 };

export function sortCandidates(candidates) {
  return [...candidates].sort(
    (a, b) =>
      ORDER[a.kind] - ORDER[b.kind] ||
      a.iteration_index - b.iteration_index ||
      a.sample_index - b.sample_index ||
      a.seed - b.seed,
  );
}

/** "stopped at 25%": how far a candidate that successive halving stopped trained. */
export function stoppedAt(c, timesteps) {
  const budget = c.halving?.budget;
  if (c.status !== "stopped" || !budget || !timesteps) return null;
  return `stopped at ${Math.round((100 * budget) / timesteps)}%`;
}

/** What the page calls a candidate's state: a cancelled one waits (pending) to train
 * again on resume, which the row says instead of "pending" beside "cancelled". */
export function shownStatus(c) {
  if (c.status === "pending" && c.error_kind === "cancelled") return "cancelled";
  return c.status;
}

function errorCell(c) {
  if (c.duplicate_of)
    return h("span", { className: "muted" }, `same code as ${shortId(c.duplicate_of)}`);
  if (c.status === "stopped" && c.error_kind === "halving")
    return h("span", { className: "muted" }, "partial: successive halving stopped it");
  if (c.status === "screened")
    return h("span", { className: "muted" }, "not trained: screened out on the archive");
  if (shownStatus(c) === "cancelled") return h("span", { className: "muted" }, "trains on resume");
  if (!c.error_kind) return "";
  return h("span", { className: "error-kind" }, c.error_kind);
}

function fitnessCell(c, timesteps) {
  const partial = stoppedAt(c, timesteps);
  if (!partial) return fmt(c.fitness);
  return h(
    "span",
    { className: "partial" },
    fmt(c.fitness),
    h("span", { className: "sub" }, ` ${partial}`),
  );
}

/** Env steps: a bar while a sandbox trains it, "queued" while it waits for one. */
function stepsCell(c, timesteps) {
  if (c.status === "queued") return h("span", { className: "muted" }, "queued");
  if (c.status !== "training" || !timesteps) return fmt(c.env_steps);
  const done = Math.min(c.env_steps, timesteps);
  return h(
    "span",
    { className: "step-progress" },
    h("progress", {
      max: timesteps,
      value: done,
      "aria-label": `env steps of candidate ${c.id}`,
    }),
    h("span", { className: "sub" }, `${fmt(done)} / ${fmt(timesteps)}`),
  );
}

function iterationCell(c) {
  if (c.kind === "final") return `final · ${c.reward_source} reward · seed ${c.seed}`;
  if (c.kind === "reselect") return `retrain of ${shortId(c.parent_id)} · seed ${c.seed}`;
  return `${c.iteration_index} · sample ${c.sample_index}`;
}

/** Rebuild the table body; `onOpen(id)` opens a candidate, `selected` is marked;
 * `timesteps` is the run's budget per candidate (progress bars, "stopped at 25%"). */
export function renderTable(tbody, candidates, selected, onOpen, timesteps = null) {
  tbody.replaceChildren(
    ...sortCandidates(candidates).map((c) => {
      const open = h(
        "button",
        {
          type: "button",
          className: "link-button",
          "aria-label": `Open candidate ${c.id} (${candidateLabel(c)})`,
        },
        shortId(c.id),
      );
      open.addEventListener("click", () => onOpen(c.id));
      const row = h(
        "tr",
        {
          dataset: { candidate: c.id, status: shownStatus(c) },
          className: [c.id === selected ? "selected" : "", c.status === "stopped" ? "partial" : ""]
            .filter(Boolean)
            .join(" "),
        },
        h("td", { "data-label": "Candidate" }, open),
        h("td", { "data-label": "Iteration" }, iterationCell(c)),
        h("td", { "data-label": "Status" }, statusBadge(shownStatus(c))),
        h("td", { "data-label": "Fitness", className: "num" }, fitnessCell(c, timesteps)),
        h("td", { "data-label": "Success", className: "num" }, percent(c.success_rate)),
        h("td", { "data-label": "Steps", className: "num" }, stepsCell(c, timesteps)),
        h("td", { "data-label": "Train s", className: "num" }, fmt(c.train_seconds, 3)),
        h("td", { "data-label": "Error" }, errorCell(c)),
      );
      if (c.id === selected) row.setAttribute("aria-current", "true");
      return row;
    }),
  );
}

function fitnessFact(c, timesteps) {
  if (c.fitness === null) return "–";
  const partial = stoppedAt(c, timesteps);
  if (partial) return `${fmt(c.fitness)} (${partial} of the budget by successive halving)`;
  return c.kind === "final" ? `${fmt(c.fitness)} (this seed)` : `${fmt(c.fitness)} (1 search seed)`;
}

function facts(c, timesteps) {
  const rows = [
    ["Status", statusBadge(shownStatus(c))],
    ["Fitness", fitnessFact(c, timesteps)],
    ["Success rate", percent(c.success_rate)],
    ["Env steps", h("span", { className: "env-steps" }, stepsText(c, timesteps))],
    [
      "Training",
      c.train_seconds === null ? "–" : `${fmt(c.train_seconds, 3)} s (every rung summed)`,
    ],
    ["Sandbox", c.sandbox_level || "–"],
    ["Reward", c.kind === "final" ? `${c.reward_source} (final test, seed ${c.seed})` : "evolved"],
  ];
  const evaluation = c.evaluation || {};
  if (Array.isArray(evaluation.episode_fitness)) {
    rows.push(["Episodes", evaluation.episode_fitness.map((v) => fmt(v)).join(", ")]);
  }
  if (c.stats?.correlation !== undefined)
    rows.push(["Reward–fitness r", fmt(c.stats.correlation, 3)]);
  const screen = screenFact(c.stats?.screen);
  if (screen) rows.push(["Screening", screen]);
  return h(
    "dl",
    { className: "facts" },
    rows.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))),
  );
}

/** "rank correlation 0.85 on 16 archived episodes (screened out: below 0.30)". */
function screenFact(screen) {
  if (!screen || !screen.episodes) return null;
  const rho = screen.rank_correlation;
  let text =
    rho === null || rho === undefined
      ? `no rank correlation on ${screen.episodes} archived episodes`
      : `rank correlation ${fmt(rho, 2)} with the fitness on ${screen.episodes} archived episodes`;
  if (screen.threshold !== null && screen.threshold !== undefined)
    text += screen.screened
      ? ` (screened out: below ${fmt(screen.threshold, 2)})`
      : ` (threshold ${fmt(screen.threshold, 2)})`;
  return text;
}

function stepsText(c, timesteps) {
  if (c.status === "queued") return "queued: waiting for a free sandbox";
  return timesteps ? `${fmt(c.env_steps)} of ${fmt(timesteps)}` : fmt(c.env_steps);
}

function videoFigure(c) {
  const body = c.links?.video
    ? h("video", {
        controls: true,
        preload: "auto",
        muted: true,
        playsInline: true,
        loop: true,
        src: c.links.video,
        className: "rollout",
        "aria-label": `rollout of candidate ${c.id}`,
      })
    : h(
        "p",
        { className: "empty" },
        ["pending", "queued", "training", "evaluating"].includes(c.status)
          ? "The video is made once the policy is trained and evaluated."
          : "No video for this candidate.",
      );
  return h(
    "figure",
    { className: "video-figure" },
    body,
    h("figcaption", {}, "Rollout of the trained policy (deterministic)"),
  );
}

/** Links to the candidate's training statistics, and to the whole run's. */
function downloads(c) {
  const candidate = `/api/candidates/${encodeURIComponent(c.id)}`;
  const link = (href, text, label) => h("a", { href, download: "", "aria-label": label }, text);
  return h(
    "p",
    { className: "downloads" },
    "Training statistics: ",
    link(`${candidate}/stats.csv`, "CSV", `statistics of candidate ${c.id} as CSV`),
    " · ",
    link(`${candidate}/stats.json`, "JSON", `statistics of candidate ${c.id} as JSON`),
    c.links?.tensorboard ? " · " : "",
    c.links?.tensorboard
      ? link(c.links.tensorboard, "TensorBoard logs (zip)", `TensorBoard event files of ${c.id}`)
      : "",
    " · ",
    h(
      "a",
      { href: `/api/runs/${encodeURIComponent(c.run_id)}/stats.csv`, download: "" },
      "every candidate of the run (CSV)",
    ),
  );
}

/** The candidate detail panel; `actions` has parent(id), note(id), compare(side, id), open(id). */
export class CandidatePanel {
  constructor(section, metricName, actions) {
    this.section = section;
    this.metricName = metricName;
    this.actions = actions;
    this.timesteps = null; // the run's budget per candidate, set by the page
    this.id = null;
    this.chart = null;
    this.shownSignature = null;
    // Escape closes the panel, as it closes dialogs, unless a control used the key.
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented || this.section.hidden) return;
      if (event.target.closest?.("dialog[open], select, video")) return;
      this.close();
    });
  }

  async open(id, { focus = true } = {}) {
    this.id = id;
    this.shownSignature = null;
    await this.reload();
    if (focus) {
      this.section.scrollIntoView({ block: "start" });
      this.section.focus({ preventScroll: true });
    }
  }

  /** Hide the panel; focus goes back to the candidate's row, where it was opened. */
  close() {
    const id = this.id;
    this.id = null;
    this.chart?.destroy();
    this.chart = null;
    this.section.hidden = true;
    this.section.replaceChildren();
    if (location.hash === `#candidate-${id}`) history.replaceState(null, "", location.pathname);
    const row = id && document.querySelector(`tr[data-candidate="${CSS.escape(id)}"]`);
    if (row) {
      row.classList.remove("selected");
      row.removeAttribute("aria-current");
      row.querySelector("button")?.focus();
    }
  }

  /** Fetch the open candidate again; re-render only what changed (keeps the video
   * playing and open sections open): env steps in place, the rest when the status,
   * the result or the statistics (a new checkpoint: the curves grow) changed. */
  async reload() {
    if (!this.id) return;
    const id = this.id;
    const c = await api(`/api/candidates/${encodeURIComponent(id)}`);
    if (this.id !== id) return;
    const signature = JSON.stringify([
      c.status,
      c.error_kind,
      c.fitness,
      c.links,
      c.stats?.checkpoints?.length ?? 0,
    ]);
    if (signature === this.shownSignature) {
      const steps = this.section.querySelector(".env-steps");
      if (steps) steps.textContent = stepsText(c, this.timesteps);
      return;
    }
    this.shownSignature = signature;
    this.render(c);
  }

  render(c) {
    this.chart?.destroy();
    const close = h(
      "button",
      { type: "button", className: "icon-button", "aria-label": "Close candidate details" },
      "×",
    );
    close.addEventListener("click", () => this.close());
    const canvas = h("canvas", {
      role: "img",
      "aria-label": `reward components and fitness over training for candidate ${c.id}`,
    });
    const curves = h(
      "figure",
      { className: "curves-figure" },
      h("div", { className: "chart-box small" }, canvas),
      h(
        "figcaption",
        {},
        "Reward components, training reward and fitness over training checkpoints",
      ),
    );
    this.section.replaceChildren(
      h(
        "div",
        { className: "panel-head" },
        h("h2", { id: "candidate-title" }, `Candidate ${candidateLabel(c)}`),
        close,
      ),
      facts(c, this.timesteps),
      downloads(c),
      this.buttons(c),
      c.error ? h("pre", { className: "error-box", "aria-label": "error" }, c.error) : "",
      h("div", { className: "media-grid" }, videoFigure(c), curves),
      h("h3", {}, "Reward code"),
      c.code
        ? codeBlock(c.code, `reward code of candidate ${c.id}`)
        : h("p", { className: "empty" }, "No code was extracted from the response."),
      h(
        "h3",
        {},
        c.parent_id ? `Diff against its parent ${shortId(c.parent_id)}` : "Diff against its parent",
      ),
      c.diff
        ? diffBlock(c.diff, `diff of candidate ${c.id} against ${c.parent_id}`)
        : h(
            "p",
            { className: "empty" },
            c.parent_id
              ? "The code is the same as its parent's."
              : "No parent: this candidate was written from the task alone.",
          ),
      c.response_text
        ? h(
            "details",
            { className: "response" },
            h("summary", {}, "The LLM's whole answer"),
            h("pre", { className: "prose" }, c.response_text),
          )
        : "",
    );
    this.section.hidden = false;
    this.chart = curvesChart(canvas, c.stats || {}, this.metricName);
    if (!this.chart)
      curves.replaceChildren(h("p", { className: "empty" }, "No training statistics yet."));
  }

  buttons(c) {
    const row = h("div", { className: "button-row" });
    const add = (text, onClick, props = {}) => {
      const button = h("button", { type: "button", className: "secondary", ...props }, text);
      button.addEventListener("click", onClick);
      row.append(button);
    };
    if (c.parent_id)
      add(`Open parent ${shortId(c.parent_id)}`, () => this.actions.open(c.parent_id));
    if (c.kind === "search" && c.code) {
      add("Use this as the parent", () => this.actions.parent(c.id));
      add("Write a note about it", () => this.actions.note(c.id));
    }
    if (c.links?.video && c.kind === "search") {
      add("Compare: left", () => this.actions.compare("left", c.id), {
        "aria-label": "Show on the left of the comparison",
      });
      add("Compare: right", () => this.actions.compare("right", c.id), {
        "aria-label": "Show on the right of the comparison",
      });
    }
    return row;
  }
}
