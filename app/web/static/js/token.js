// The "API token" box in the page header: save or forget the bearer token.
import { getToken, setToken } from "./api.js";

const box = document.getElementById("token-box");
const form = document.getElementById("token-form");
const input = document.getElementById("token-input");
const state = document.getElementById("token-state");

function show() {
  const saved = Boolean(getToken());
  const required = box.dataset.required === "yes";
  state.textContent = saved ? "API token: saved" : required ? "API token: needed" : "API token";
  box.classList.toggle("needs-token", required && !saved);
  input.value = "";
  input.placeholder = saved
    ? "a token is saved; paste a new one to replace it"
    : "paste your token";
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = input.value.trim();
  if (token) setToken(token);
  box.open = false;
});
document.getElementById("token-forget").addEventListener("click", () => {
  setToken("");
});
window.addEventListener("rewardforge:token", show);
show();
