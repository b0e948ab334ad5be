// Each iteration's prompt (the chat messages sent) and the LLM's answers,
// collapsible, kept open across live updates.
import { h, shortId, statusBadge } from "./dom.js";

function messageBlock(message, index) {
  const content =
    typeof message.content === "string"
      ? message.content
      : JSON.stringify(message.content, null, 2);
  return h(
    "details",
    { className: "message", open: message.role !== "system" },
    h(
      "summary",
      {},
      `${index + 1}. ${message.role}`,
      h("span", { className: "sub" }, ` · ${content.length.toLocaleString("en-US")} characters`),
    ),
    h("pre", { className: "prose" }, content),
  );
}

function responseBlock(response) {
  return h(
    "details",
    { className: "message" },
    h(
      "summary",
      {},
      `answer ${response.sample_index} → candidate ${shortId(response.candidate_id)} `,
      statusBadge(response.status),
    ),
    h("pre", { className: "prose" }, response.response_text || "(no text stored)"),
  );
}

function iterationBody(it) {
  const parent = it.parent_candidate_id
    ? `improving on candidate ${shortId(it.parent_candidate_id)}`
    : "written from the task alone";
  return [
    h(
      "p",
      { className: "sub" },
      parent,
      it.best_candidate_id ? ` · best: ${shortId(it.best_candidate_id)}` : "",
    ),
    h("h4", {}, "Prompt"),
    ...(it.messages || []).map(messageBlock),
    h("h4", {}, `Responses (${it.responses.length})`),
    ...(it.responses.length
      ? it.responses.map(responseBlock)
      : [h("p", { className: "empty" }, "Waiting for the LLM…")]),
  ];
}

/** Render the iterations into `container`, touching only those that changed. */
export function renderIterations(container, iterations) {
  if (!iterations.length) {
    container.replaceChildren(h("p", { className: "empty" }, "No prompt sent yet."));
    return;
  }
  container.querySelector(":scope > .empty")?.remove();
  for (const it of iterations) {
    const signature = JSON.stringify([
      it.status,
      it.messages.length,
      it.best_candidate_id,
      it.responses.map((r) => [r.status, r.response_text?.length]),
    ]);
    let details = container.querySelector(`:scope > details[data-index="${it.index}"]`);
    if (!details) {
      details = h("details", {
        className: "iteration",
        dataset: { index: String(it.index) },
        id: `iteration-${it.index}`,
      });
      details.append(h("summary"), h("div", { className: "iteration-body" }));
      container.append(details);
    }
    if (details.dataset.signature === signature) continue;
    details.dataset.signature = signature;
    details
      .querySelector("summary")
      .replaceChildren(
        `Iteration ${it.index} `,
        statusBadge(it.status),
        h(
          "span",
          { className: "sub" },
          ` · ${it.messages.length} messages · ${it.responses.length} answers`,
        ),
      );
    const body = details.querySelector(".iteration-body");
    const open = new Set(
      [...body.querySelectorAll("details[open]")].map(
        (d) => d.querySelector("summary").textContent,
      ),
    );
    body.replaceChildren(...iterationBody(it));
    for (const d of body.querySelectorAll("details")) {
      if (open.has(d.querySelector("summary").textContent)) d.open = true;
    }
  }
}
