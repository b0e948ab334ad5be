// The time left in the current iteration, from the env steps the page has seen
// its candidates make: remaining steps (training and queued) over the current
// rate of the sandboxes training now.

/** Seconds as people read them: "45 s", "3 min 20 s", "1 h 05 min". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

export class TrainingEta {
  constructor() {
    this.first = new Map(); // candidate id -> [time (ms), env steps] when first seen training
  }

  /** "about 2 min 10 s left in iteration 3", or "" when there is nothing to estimate. */
  text(candidates, timesteps, now = Date.now()) {
    const training = candidates.filter((c) => c.status === "training");
    const queued = candidates.filter((c) => c.status === "queued");
    for (const id of this.first.keys()) {
      if (!training.some((c) => c.id === id)) this.first.delete(id);
    }
    let rate = 0;
    for (const c of training) {
      if (!this.first.has(c.id)) this.first.set(c.id, [now, c.env_steps]);
      const [t0, steps0] = this.first.get(c.id);
      if (now - t0 > 1500 && c.env_steps > steps0)
        rate += ((c.env_steps - steps0) * 1000) / (now - t0);
    }
    if (!training.length || !timesteps) return "";
    const iteration = Math.max(...training.map((c) => c.iteration_index));
    const where = training[0].kind === "search" ? `iteration ${iteration}` : "the final test";
    if (rate <= 0) return `estimating the time left in ${where}…`;
    const left =
      training.reduce((sum, c) => sum + Math.max(0, timesteps - c.env_steps), 0) +
      queued.length * timesteps;
    return `about ${duration(left / rate)} left in ${where}`;
  }
}
