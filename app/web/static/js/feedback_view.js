// Feedback on the run page: two behaviours side by side with a preference,
// notes about a candidate, the parent pick, the list of what was sent, and
// "continue" for a run that waits.
import { api } from "./api.js";
import { candidateLabel, fillSelect, h, shortId } from "./dom.js";

const $ = (id) => document.getElementById(id);

function comparable(candidates) {
  return candidates.filter((c) => c.kind === "search" && c.status === "done");
}

export class FeedbackView {
  /** `ctx` has runId, notify(text, isError), refresh(). */
  constructor(ctx) {
    this.ctx = ctx;
    this.byId = new Map();
    for (const side of ["left", "right"]) {
      $(`compare-${side}`).addEventListener("change", () => this.showVideo(side));
      $(`prefer-${side}`).addEventListener("click", () => this.prefer(side));
    }
    $("note-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendNote();
    });
    $("continue-run").addEventListener("click", () => this.continueRun());
  }

  /** Refresh the candidate choices; a new pair fills both sides when they were empty. */
  update(run, candidates, feedback) {
    // The API refuses feedback on a run that has succeeded (409); say so before anyone types.
    const closed = run.status === "succeeded";
    $("feedback-closed").hidden = !closed;
    for (const control of $("note-form").elements) control.disabled = closed;
    this.byId = new Map(candidates.map((c) => [c.id, c]));
    const options = comparable(candidates).map((c) => [
      c.id,
      `${candidateLabel(c)} · fitness ${c.fitness?.toPrecision(4) ?? "–"}`,
    ]);
    for (const [side, other] of [
      ["left", "right"],
      ["right", "left"],
    ]) {
      const select = $(`compare-${side}`);
      const had = select.value;
      fillSelect(select, options);
      // An empty side takes the first candidate the other side does not show, or stays empty.
      const taken = $(`compare-${other}`).value;
      if (!had) select.value = options.find(([id]) => id !== taken)?.[0] ?? "";
      if (select.value !== had) this.showVideo(side);
    }
    const enough = options.length >= 2;
    $("compare-empty").hidden = enough;
    for (const side of ["left", "right"]) $(`prefer-${side}`).disabled = !enough || closed;
    const notable = candidates.filter((c) => c.kind === "search");
    fillSelect($("note-candidate"), [
      ["", "the iteration as a whole"],
      ...notable.map((c) => [c.id, candidateLabel(c)]),
    ]);
    this.renderSent(feedback);
  }

  showVideo(side) {
    const id = $(`compare-${side}`).value;
    const video = $(`video-${side}`);
    if (!id) {
      video.removeAttribute("src");
      return;
    }
    const src = `/api/candidates/${encodeURIComponent(id)}/video`;
    if (video.getAttribute("src") !== src) video.setAttribute("src", src);
  }

  /** Put candidate `id` on one side of the comparison and scroll to it. */
  compare(side, id) {
    $(`compare-${side}`).value = id;
    this.showVideo(side);
    $("compare").scrollIntoView({ block: "start" });
  }

  async post(body, done) {
    try {
      await api(`/api/runs/${encodeURIComponent(this.ctx.runId)}/feedback`, {
        method: "POST",
        body,
      });
      this.ctx.notify(done);
      this.ctx.refresh();
      return true;
    } catch (error) {
      this.ctx.notify(error.message, true);
      return false;
    }
  }

  prefer(side) {
    const other = side === "left" ? "right" : "left";
    const preferred = $(`compare-${side}`).value;
    const rejected = $(`compare-${other}`).value;
    if (!preferred || !rejected || preferred === rejected) {
      this.ctx.notify("Choose two different candidates to compare.", true);
      return;
    }
    this.post(
      { preferences: [{ preferred, other: rejected }], continue: false },
      `Saved: you prefer ${shortId(preferred)} over ${shortId(rejected)}.`,
    );
  }

  /** Preselect `id` in the note form and move the focus to the text. */
  noteAbout(id) {
    $("note-candidate").value = id;
    $("note-text").focus();
  }

  async sendNote() {
    const text = $("note-text").value.trim();
    const error = $("note-error");
    error.hidden = Boolean(text);
    if (!text) {
      error.textContent = "Write the note first.";
      $("note-text").setAttribute("aria-invalid", "true");
      $("note-text").focus();
      return;
    }
    $("note-text").removeAttribute("aria-invalid");
    const candidate = $("note-candidate").value;
    const body = { text, continue: false, ...(candidate ? { candidate_id: candidate } : {}) };
    if (await this.post(body, "Saved your note; the next prompt will include it."))
      $("note-text").value = "";
  }

  useAsParent(id) {
    this.post(
      { parent_candidate_id: id, continue: false },
      `Saved: the next iteration improves on ${shortId(id)}.`,
    );
  }

  async continueRun() {
    const button = $("continue-run");
    button.disabled = true;
    const ok = await this.post({ continue: true }, "Continuing: the next iteration starts now.");
    if (!ok) button.disabled = false;
  }

  renderSent(feedback) {
    const items = feedback.map((f) => {
      const about = f.candidate_id ? this.byId.get(f.candidate_id) : null;
      const name = about ? candidateLabel(about) : shortId(f.candidate_id);
      const what =
        {
          text: () => `note${f.candidate_id ? ` about ${name}` : ""}: “${f.text}”`,
          parent: () => `parent for the next iteration: ${name}`,
          preference: () => `prefers ${name} over ${shortId(f.other_candidate_id)}`,
          continue: () => "continue",
        }[f.kind]?.() ?? f.kind;
      return h(
        "li",
        {},
        h("span", { className: "sub" }, `iteration ${f.iteration_index} · `),
        what,
        h("span", { className: "sub" }, ` · ${f.use}`),
      );
    });
    $("feedback-list").replaceChildren(
      ...(items.length ? items : [h("li", { className: "muted" }, "none yet")]),
    );
  }
}
