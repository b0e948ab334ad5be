// The runs list keeps itself current: every few seconds, while the tab is
// visible, it fetches this same page (filters included) and swaps in the list.
const REFRESH_MS = 5000;

async function refresh() {
  if (document.hidden) return;
  try {
    const response = await fetch(location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser()
      .parseFromString(await response.text(), "text/html")
      .getElementById("runs-body");
    const current = document.getElementById("runs-body");
    if (fresh && current && fresh.innerHTML !== current.innerHTML) current.replaceWith(fresh);
  } catch {
    // The server is restarting or unreachable: keep showing the last list.
  }
}

setInterval(refresh, REFRESH_MS);
