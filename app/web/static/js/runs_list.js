// The runs list keeps itself current: every few seconds, while the tab is
// visible, it fetches this same page (search, filters, sort and page included)
// and swaps in the list. Deleting a run asks first, in a dialog.
import { api } from "./api.js";
import { localizeTimes } from "./local_time.js";

const REFRESH_MS = 5000;
const dialog = document.getElementById("delete-dialog");
const status = document.getElementById("list-status");
let pending = null; // the run the dialog asks about

async function refresh({ force = false } = {}) {
  if (!force && (document.hidden || dialog.open)) return;
  try {
    const response = await fetch(location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser()
      .parseFromString(await response.text(), "text/html")
      .getElementById("runs-body");
    const current = document.getElementById("runs-body");
    if (!fresh || !current) return;
    localizeTimes(fresh); // as the shown list is, or every refresh would look like a change
    if (fresh.innerHTML !== current.innerHTML) current.replaceWith(fresh);
  } catch {
    // The server is restarting or unreachable: keep showing the last list.
  }
}

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("is-error", isError);
}

function askToDelete(button) {
  pending = { id: button.dataset.delete, button };
  document.getElementById("delete-id").textContent = pending.id;
  document.getElementById("delete-task").textContent = button.dataset.task;
  const error = document.getElementById("delete-error");
  error.hidden = true;
  error.textContent = "";
  dialog.showModal();
  document.getElementById("delete-cancel").focus(); // the safe choice first
}

async function confirmDelete(event) {
  if (event.submitter?.value !== "delete" || !pending) return; // "Keep it" or Escape: close
  event.preventDefault(); // stay open until the server has answered
  const confirm = document.getElementById("delete-confirm");
  confirm.disabled = true;
  try {
    await api(`/api/runs/${encodeURIComponent(pending.id)}`, { method: "DELETE" });
    dialog.close();
    say(`Deleted run ${pending.id}.`);
    pending = null;
    await refresh({ force: true });
  } catch (error) {
    const message = document.getElementById("delete-error");
    message.textContent = error.message;
    message.hidden = false;
  } finally {
    confirm.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("button[data-delete]");
  if (button) askToDelete(button);
});
document.getElementById("delete-form").addEventListener("submit", confirmDelete);
dialog.addEventListener("close", () => {
  // Focus goes back to the row's button when the run is still listed.
  const row = pending && document.querySelector(`button[data-delete="${CSS.escape(pending.id)}"]`);
  row?.focus();
  pending = null;
});
setInterval(refresh, REFRESH_MS);
