// The new run form: show the chosen env's card, fill its metrics, POST /api/runs,
// and put each error the API returns next to the field it is about.
import { api, ApiError } from "./api.js";
import { fillSelect, h } from "./dom.js";

const form = document.getElementById("new-run");
const envSelect = document.getElementById("f-env_id");
const fitnessSelect = document.getElementById("f-fitness");
const summary = document.getElementById("form-errors");
const submitStatus = document.getElementById("submit-status");
const envDefaults = JSON.parse(document.getElementById("env-defaults").textContent);

// Friendlier words for the validation errors people meet most.
const MESSAGES = {
  missing: "This is required.",
  string_too_short: "This must not be empty.",
  int_parsing: "Enter a whole number.",
  int_from_float: "Enter a whole number.",
  float_parsing: "Enter a number.",
};

function showCard() {
  const env = envSelect.value;
  for (const card of document.querySelectorAll("#card-preview .env-card")) {
    card.hidden = card.dataset.env !== env;
  }
  const defaults = envDefaults[env];
  fillSelect(
    fitnessSelect,
    defaults
      ? defaults.metrics.map((m, i) => [m.name, `${m.name}${i === 0 ? " (default)" : ""}`])
      : [["", "choose an environment first"]],
    { keep: false },
  );
  // Empty budget fields take the env's defaults: say which.
  const training = defaults?.training;
  const fallback = "the env's default";
  document.getElementById("f-timesteps").placeholder = training
    ? `${training.timesteps.toLocaleString("en-US")} (${fallback})`
    : fallback;
  document.getElementById("f-options-n_envs").placeholder = training ? training.n_envs : fallback;
  document.getElementById("f-options-algorithm").options[0].textContent = training
    ? `${training.algorithm} (${fallback})`
    : fallback;
}

/** The JSON body: empty fields are left out so the server's defaults apply. */
function body() {
  const data = { llm: {}, options: {} };
  const numbers = new Set([
    "iterations",
    "samples",
    "timesteps",
    "final_seeds",
    "seed",
    "feedback_timeout_s",
    "llm.temperature",
    "options.n_envs",
    "options.eval_episodes",
    "options.screen_min_correlation",
  ]);
  for (const element of form.elements) {
    if (!element.name || element.name === "token") continue;
    if (element.type === "radio" && !element.checked) continue;
    let value = element.type === "checkbox" ? element.checked : element.value;
    if (typeof value === "string") {
      value = value.trim();
      if (value === "" && element.name !== "task") continue;
      // Send what was typed when it is no number, so the server names the problem.
      if (numbers.has(element.name) && value !== "" && !Number.isNaN(Number(value))) {
        value = Number(value);
      }
    }
    if (element.type === "checkbox" && !value) continue;
    const [head, tail] = element.name.split(".");
    if (tail) data[head][tail] = value;
    else data[head] = value;
  }
  if (!Object.keys(data.llm).length) delete data.llm;
  if (!Object.keys(data.options).length) delete data.options;
  return data;
}

function clearErrors() {
  summary.hidden = true;
  summary.replaceChildren();
  for (const slot of form.querySelectorAll(".field-error")) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]"))
    input.removeAttribute("aria-invalid");
}

function fieldName(loc) {
  const parts = (loc || []).slice(loc?.[0] === "body" ? 1 : 0);
  return parts.join(".");
}

function showErrors(errors) {
  const items = [];
  for (const error of errors) {
    const name = fieldName(error.loc);
    const message = MESSAGES[error.type] || error.msg.replace(/^Value error, /, "");
    const slot = name && form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    const input = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      slot.hidden = false;
    }
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.closest("details")?.setAttribute("open", "");
    }
    const label = input ? form.querySelector(`label[for="${input.id}"]`)?.textContent : null;
    items.push(
      input
        ? h("li", {}, h("a", { href: `#${input.id}` }, `${label || name}: ${message}`))
        : h("li", {}, message),
    );
  }
  summary.replaceChildren(
    h(
      "p",
      {},
      items.length === 1 ? "One thing needs fixing:" : `${items.length} things need fixing:`,
    ),
    h("ul", {}, items),
  );
  summary.hidden = false;
  const first = form.querySelector("[aria-invalid=true]");
  (first || summary).focus();
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const button = document.getElementById("submit-run");
  button.disabled = true;
  submitStatus.textContent = "Starting…";
  try {
    const run = await api(form.dataset.api, { method: "POST", body: body() });
    submitStatus.textContent = "Started; opening the run…";
    window.location.assign(`/runs/${encodeURIComponent(run.id)}`);
  } catch (error) {
    submitStatus.textContent = "";
    const fields = error instanceof ApiError ? error.fieldErrors : [];
    showErrors(fields.length ? fields : [{ loc: [], msg: error.message }]);
  } finally {
    button.disabled = false;
  }
}

/** Set the form's fields to `values` (named as the inputs are), as "new run from this one". */
function fill(values) {
  envSelect.value = values.env_id;
  showCard();
  for (const [name, value] of Object.entries(values)) {
    if (name === "env_id") continue;
    for (const input of form.querySelectorAll(`[name="${CSS.escape(name)}"]`)) {
      if (input.type === "radio") input.checked = input.value === String(value);
      else if (input.type === "checkbox") input.checked = Boolean(value);
      else if (input.tagName !== "SELECT" || [...input.options].some((o) => o.value === `${value}`))
        input.value = String(value);
      if (input.closest("details") && input.value && input.type !== "radio")
        input.closest("details").open = true;
    }
  }
}

envSelect.addEventListener("change", showCard);
form.addEventListener("submit", submit);
form.addEventListener("input", (event) => {
  // Typing in a field clears its own error, not the others.
  const slot = form.querySelector(`[data-error-for="${CSS.escape(event.target.name || "")}"]`);
  if (slot) slot.hidden = true;
  event.target.removeAttribute?.("aria-invalid");
});
const prefill = JSON.parse(document.getElementById("prefill").textContent);
if (prefill) fill(prefill);
else if (envSelect.value) showCard();
