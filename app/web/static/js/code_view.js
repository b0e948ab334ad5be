// Python with syntax highlighting (highlight.js core + its python grammar only),
// and a unified diff rendered line by line with the same highlighting.
import hljs from "../vendor/highlightjs/core.min.js";
import python from "../vendor/highlightjs/python.min.js";
import { h } from "./dom.js";

hljs.registerLanguage("python", python);

function highlighted(text) {
  return hljs.highlight(text, { language: "python", ignoreIllegals: true }).value;
}

/** A <pre> with the code highlighted (hljs escapes the text it is given). */
export function codeBlock(code, label) {
  const element = h("code", { className: "hljs language-python" });
  element.innerHTML = highlighted(code);
  return h("pre", { className: "code", tabIndex: 0, "aria-label": label }, element);
}

const KINDS = [
  ["+++", "diff-file"],
  ["---", "diff-file"],
  ["@@", "diff-hunk"],
  ["+", "diff-add"],
  ["-", "diff-del"],
  [" ", "diff-same"],
];

/** A unified diff: file and hunk headers as they are, changed lines marked and highlighted. */
export function diffBlock(diff, label) {
  const lines = diff
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => {
      const [prefix, kind] = KINDS.find(([p]) => line.startsWith(p)) || ["", "diff-same"];
      const row = h("span", { className: `diff-line ${kind}` });
      if (kind === "diff-file" || kind === "diff-hunk") {
        row.textContent = line;
      } else {
        const mark = h("span", { className: "diff-mark", "aria-hidden": "true" }, prefix || " ");
        const body = h("span");
        body.innerHTML = highlighted(line.slice(prefix.length));
        const hidden = { "+": "added: ", "-": "removed: " }[prefix];
        row.append(mark, hidden ? h("span", { className: "visually-hidden" }, hidden) : "", body);
      }
      return row;
    });
  const added = lines.filter((l) => l.classList.contains("diff-add")).length;
  const removed = lines.filter((l) => l.classList.contains("diff-del")).length;
  return h(
    "div",
    { className: "diff" },
    h(
      "p",
      { className: "sub" },
      `${added} line${added === 1 ? "" : "s"} added, ${removed} removed`,
    ),
    h(
      "pre",
      { className: "code diff-code", tabIndex: 0, "aria-label": label },
      h("code", { className: "hljs" }, lines),
    ),
  );
}
