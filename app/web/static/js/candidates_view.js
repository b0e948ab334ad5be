// The candidates table and the detail panel of the candidate that is open:
// its code, diff against the parent, curves over training, video and response.
import { api } from "./api.js";
import { codeBlock, diffBlock } from "./code_view.js";
import { candidateLabel, fmt, h, percent, shortId, statusBadge } from "./dom.js";
import { curvesChart } from "./run_charts.js";

const ORDER = { search: 0, final: 1 };

export function sortCandidates(candidates) {
  return [...candidates].sort(
    (a, b) =>
      ORDER[a.kind] - ORDER[b.kind] ||
      a.iteration_index - b.iteration_index ||
      a.sample_index - b.sample_index ||
      a.seed - b.seed,
  );
}

function errorCell(c) {
  if (c.duplicate_of)
    return h("span", { className: "muted" }, `same code as ${shortId(c.duplicate_of)}`);
  if (!c.error_kind) return "";
  return h("span", { className: "error-kind" }, c.error_kind);
}

function iterationCell(c) {
  if (c.kind === "final") return `final · ${c.reward_source} reward · seed ${c.seed}`;
  return `${c.iteration_index} · sample ${c.sample_index}`;
}

/** Rebuild the table body; `onOpen(id)` opens a candidate, `selected` is marked. */
export function renderTable(tbody, candidates, selected, onOpen) {
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
          dataset: { candidate: c.id, status: c.status },
          className: c.id === selected ? "selected" : "",
        },
        h("td", { "data-label": "Candidate" }, open),
        h("td", { "data-label": "Iteration" }, iterationCell(c)),
        h("td", { "data-label": "Status" }, statusBadge(c.status)),
        h("td", { "data-label": "Fitness", className: "num" }, fmt(c.fitness)),
        h("td", { "data-label": "Success", className: "num" }, percent(c.success_rate)),
        h("td", { "data-label": "Steps", className: "num" }, fmt(c.env_steps)),
        h("td", { "data-label": "Train s", className: "num" }, fmt(c.train_seconds, 3)),
        h("td", { "data-label": "Error" }, errorCell(c)),
      );
      if (c.id === selected) row.setAttribute("aria-current", "true");
      return row;
    }),
  );
}

function facts(c) {
  const rows = [
    ["Status", statusBadge(c.status)],
    ["Fitness", fmt(c.fitness)],
    ["Success rate", percent(c.success_rate)],
    ["Env steps", fmt(c.env_steps)],
    ["Training", c.train_seconds === null ? "–" : `${fmt(c.train_seconds, 3)} s`],
    ["Sandbox", c.sandbox_level || "–"],
    ["Reward", c.kind === "final" ? `${c.reward_source} (final test, seed ${c.seed})` : "evolved"],
  ];
  const evaluation = c.evaluation || {};
  if (Array.isArray(evaluation.episode_fitness)) {
    rows.push(["Episodes", evaluation.episode_fitness.map((v) => fmt(v)).join(", ")]);
  }
  if (c.stats?.correlation !== undefined)
    rows.push(["Reward–fitness r", fmt(c.stats.correlation, 3)]);
  return h(
    "dl",
    { className: "facts" },
    rows.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))),
  );
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
        ["pending", "training", "evaluating"].includes(c.status)
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

  /** Fetch the open candidate again; re-render only what changed (keeps the video playing). */
  async reload() {
    if (!this.id) return;
    const id = this.id;
    const c = await api(`/api/candidates/${encodeURIComponent(id)}`);
    if (this.id !== id) return;
    const signature = JSON.stringify([c.status, c.updated_at, c.links]);
    if (signature === this.shownSignature) return;
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
      facts(c),
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
