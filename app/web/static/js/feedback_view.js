// Feedback on the run page: two behaviours side by side (played in step) with a
// judgement (prefer one, tie, both bad), notes about a candidate, the parent
// pick, the list of what was sent, and "continue" with a countdown for a run
// that waits. Every confirmation appears beside the control that was used.
import { api } from "./api.js";
import { candidateLabel, fillSelect, h, shortId } from "./dom.js";
import { TERMINAL } from "./run_summary.js";

const $ = (id) => document.getElementById(id);
const SIDES = ["left", "right"];
const DRIFT_S = 0.15; // the most two videos in step may differ before one is moved

function comparable(candidates) {
  return candidates.filter((c) => c.kind === "search" && c.status === "done");
}

/** Show `text` in the status line beside `anchor` (made on first use), in red for errors. */
function sayBeside(anchor, text, isError = false) {
  let line = anchor?.nextElementSibling;
  if (!line?.classList.contains("inline-status")) {
    line = h("span", { className: "inline-status", role: "status", "aria-live": "polite" });
    anchor.after(line);
  }
  line.textContent = text;
  line.classList.toggle("is-error", isError);
}

/** "4:05" or "1:02:05" for a number of seconds. */
function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const [hours, minutes, rest] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const mm = hours ? String(minutes).padStart(2, "0") : String(minutes);
  return `${hours ? `${hours}:` : ""}${mm}:${String(rest).padStart(2, "0")}`;
}

export class FeedbackView {
  /** `ctx` has runId and refresh(); confirmations go beside the controls, not to ctx. */
  constructor(ctx) {
    this.ctx = ctx;
    this.byId = new Map();
    this.waitUntil = null; // when a waiting run continues by itself (ms since the epoch)
    this.waiting = false;
    this.ticker = null;
    for (const side of SIDES) {
      $(`compare-${side}`).addEventListener("change", () => this.showVideo(side));
      $(`prefer-${side}`).addEventListener("click", () => this.prefer(side));
      this.followVideo(side);
    }
    $("judge-tie").addEventListener("click", () => this.judge("tie"));
    $("judge-both-bad").addEventListener("click", () => this.judge("both_bad"));
    $("play-both").addEventListener("click", () => this.togglePlayBoth());
    $("note-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendNote();
    });
    $("continue-run").addEventListener("click", () => this.continueRun());
  }

  /** Refresh the candidate choices; a new pair fills both sides when they were empty. */
  update(run, candidates, feedback) {
    // Feedback on a run that has ended waits for its resumption or extension; say so.
    $("feedback-ended").hidden = !TERMINAL.has(run.status);
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
    for (const id of ["prefer-left", "prefer-right", "judge-tie", "judge-both-bad"])
      $(id).disabled = !enough;
    $("play-both").disabled = !enough;
    const notable = candidates.filter((c) => c.kind === "search");
    fillSelect($("note-candidate"), [
      ["", "the iteration as a whole"],
      ...notable.map((c) => [c.id, candidateLabel(c)]),
    ]);
    this.renderSent(feedback);
    this.waiting = run.status === "waiting_feedback";
    this.tick();
  }

  /** The run's events as they stream: a wait for feedback says when it ends. */
  onEvent(kind, data) {
    if (kind === "feedback.waiting") {
      const until = Date.parse(data?.until ?? "");
      this.waitUntil = Number.isFinite(until) ? until : null;
      $("continue-status").textContent = ""; // the last wait's "Continuing" is old news
    } else if (kind === "feedback.resumed") {
      this.waitUntil = null;
    }
    this.tick();
  }

  /** Redraw the countdown to the automatic continue, once a second while the run waits. */
  tick() {
    const line = $("feedback-countdown");
    const counting = this.waiting && this.waitUntil !== null;
    line.hidden = !counting;
    if (counting) {
      const left = (this.waitUntil - Date.now()) / 1000;
      line.textContent =
        left > 0
          ? `Continues by itself in ${clock(left)} if you do nothing.`
          : "Continuing by itself now: the wait is over.";
    }
    if (counting && !this.ticker) this.ticker = setInterval(() => this.tick(), 1000);
    if (!counting && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
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

  /** With "keep them in step" on, a play, pause or seek on one video moves the other. */
  followVideo(side) {
    const video = $(`video-${side}`);
    const other = () => $(`video-${side === "left" ? "right" : "left"}`);
    const synced = () => $("sync-videos").checked && other().getAttribute("src");
    video.addEventListener("play", () => {
      if (synced() && other().paused)
        other()
          .play()
          .catch(() => {});
      this.showPlaying();
    });
    video.addEventListener("pause", () => {
      if (synced() && !other().paused) other().pause();
      this.showPlaying();
    });
    video.addEventListener("seeked", () => {
      if (synced()) this.align(video, other());
    });
    // The left video leads while both play; the right one follows when it drifts.
    if (side === "left")
      video.addEventListener("timeupdate", () => {
        if (synced() && !video.paused) this.align(video, other());
      });
  }

  align(leader, follower) {
    const target = Math.min(leader.currentTime, follower.duration || leader.currentTime);
    if (Math.abs(follower.currentTime - target) > DRIFT_S) follower.currentTime = target;
  }

  showPlaying() {
    const playing = SIDES.some((side) => !$(`video-${side}`).paused);
    const button = $("play-both");
    button.textContent = playing ? "Pause both" : "Play both in sync";
    button.setAttribute("aria-pressed", String(playing));
  }

  /** One button for both videos: start them together from the same moment, or pause both. */
  togglePlayBoth() {
    const videos = SIDES.map((side) => $(`video-${side}`)).filter((v) => v.getAttribute("src"));
    if (videos.some((v) => !v.paused)) {
      for (const v of videos) v.pause();
      return;
    }
    const start = Math.min(...videos.map((v) => (v.ended ? 0 : v.currentTime)));
    for (const v of videos) v.currentTime = start;
    for (const v of videos)
      v.play().catch((error) => sayBeside($("play-both"), error.message, true));
  }

  /** POST feedback; `done` (or the error) appears beside `anchor`. */
  async post(body, done, anchor) {
    try {
      await api(`/api/runs/${encodeURIComponent(this.ctx.runId)}/feedback`, {
        method: "POST",
        body,
      });
      sayBeside(anchor, done);
      this.ctx.refresh();
      return true;
    } catch (error) {
      sayBeside(anchor, error.message, true);
      return false;
    }
  }

  /** The two candidates on show, or null (with the reason beside the buttons). */
  pair() {
    const [left, right] = SIDES.map((side) => $(`compare-${side}`).value);
    if (!left || !right || left === right) {
      sayBeside($("judge-row"), "Choose two different candidates to compare.", true);
      return null;
    }
    return { left, right };
  }

  prefer(side) {
    const pair = this.pair();
    if (!pair) return;
    const preferred = pair[side];
    const rejected = pair[side === "left" ? "right" : "left"];
    this.post(
      { preferences: [{ preferred, other: rejected }], continue: false },
      `Saved: you prefer ${shortId(preferred)} over ${shortId(rejected)}.`,
      $("judge-row"),
    );
  }

  judge(verdict) {
    const pair = this.pair();
    if (!pair) return;
    const [a, b] = [shortId(pair.left), shortId(pair.right)];
    this.post(
      { judgements: [{ verdict, candidates: [pair.left, pair.right] }], continue: false },
      verdict === "tie"
        ? `Saved: ${a} and ${b} are equally good.`
        : `Saved: ${a} and ${b} are both bad.`,
      $("judge-row"),
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
    const button = $("note-form").querySelector("button[type=submit]");
    if (await this.post(body, "Saved your note; the next prompt will include it.", button))
      $("note-text").value = "";
  }

  /** The candidate panel's "use as parent": the confirmation goes beside that button. */
  useAsParent(id) {
    const focused = document.activeElement;
    const clicked = focused instanceof HTMLButtonElement ? focused : null;
    this.post(
      { parent_candidate_id: id, continue: false },
      `Saved: the next iteration improves on ${shortId(id)}.`,
      clicked ?? $("judge-row"),
    );
  }

  async continueRun() {
    const button = $("continue-run");
    button.disabled = true;
    const ok = await this.post(
      { continue: true },
      "Continuing: the next iteration starts now.",
      button,
    );
    if (!ok) button.disabled = false;
  }

  renderSent(feedback) {
    const items = feedback.map((f) => {
      const about = f.candidate_id ? this.byId.get(f.candidate_id) : null;
      const name = about ? candidateLabel(about) : shortId(f.candidate_id);
      const other = shortId(f.other_candidate_id);
      const what =
        {
          text: () => `note${f.candidate_id ? ` about ${name}` : ""}: “${f.text}”`,
          parent: () => `parent for the next iteration: ${name}`,
          preference: () => `prefers ${name} over ${other}`,
          tie: () => `tie: ${name} and ${other} are equally good`,
          both_bad: () => `both bad: ${name} and ${other}`,
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
