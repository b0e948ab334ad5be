// Talking to /api from the browser: the bearer token (kept in localStorage) and
// JSON requests whose errors carry the server's own message.

const TOKEN_KEY = "rewardforge.apiToken";

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return ""; // storage disabled: the user can still read, the server refuses changes
  }
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent("rewardforge:token"));
}

/** An API answer that was not 2xx: `status`, the parsed `body`, a readable `message`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }

  /** FastAPI's 422 list of {loc, msg, type}, or [] for other errors. */
  get fieldErrors() {
    return this.status === 422 && Array.isArray(this.body?.detail) ? this.body.detail : [];
  }
}

function describe(status, body) {
  const detail = body?.detail;
  if (status === 401) {
    const why = typeof detail === "string" ? `${detail}. ` : "";
    return `${why}Paste a valid API token under “API token” at the top of the page.`;
  }
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((e) => e.msg).join("; ");
  return `the server answered ${status}`;
}

/** fetch() a JSON API route; mutating requests carry the token when one is saved. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token && method !== "GET") headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, { detail: `cannot reach the server (${error.message})` });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text.slice(0, 300) };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}
