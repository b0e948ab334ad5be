// Small helpers for building the page: elements, numbers, text.

/** Create an element: h("td", {className: "num"}, "1.2", child, ...). */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && !name.includes("-")) element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false || child === "") continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A number for people: 4 significant digits, or a dash when missing. */
export function fmt(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e7) return value.toLocaleString("en-US");
  return Number(value.toPrecision(digits)).toString();
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`;
}

export function statusBadge(status) {
  return h("span", { className: `badge status-${status}` }, String(status).replaceAll("_", " "));
}

export function shortId(id) {
  return id ? `#${id.slice(0, 6)}` : "";
}

/** "iteration 1, sample 0 · #ab12cd": how the page names a candidate everywhere. */
export function candidateLabel(candidate) {
  if (!candidate) return "";
  const where =
    candidate.kind === "final"
      ? `final test, ${candidate.reward_source} reward, seed ${candidate.seed}`
      : candidate.kind === "reselect"
        ? `top-k retraining of ${shortId(candidate.parent_id)}, seed ${candidate.seed}`
        : `iteration ${candidate.iteration_index}, sample ${candidate.sample_index}`;
  return `${where} · ${shortId(candidate.id)}`;
}

/** Replace a select's options, keeping the chosen value when it still exists. */
export function fillSelect(select, options, { keep = true } = {}) {
  const before = select.value;
  select.replaceChildren(...options.map(([value, label]) => h("option", { value }, label)));
  if (keep && options.some(([value]) => value === before)) select.value = before;
}

/** Line colours far enough apart to tell ten series apart (Tableau 10). */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#59a14f",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#9c755f",
  "#ff9da7",
  "#bab0ac",
];
