// Timestamps in the reader's own time zone. The server writes UTC into
// <time datetime="..." data-local>; this rewrites the text in local time and
// keeps the UTC time in the tooltip. Pages that swap in new HTML call
// localizeTimes() on it.
const PARTS = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
const THIS_YEAR = new Intl.DateTimeFormat(undefined, PARTS);
const OTHER_YEAR = new Intl.DateTimeFormat(undefined, { ...PARTS, year: "numeric" });

/** "1 Dec, 17:20" (the year when it is not this one): the browser's zone and language. */
export function localTime(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "–";
  const format = date.getFullYear() === new Date().getFullYear() ? THIS_YEAR : OTHER_YEAR;
  return format.format(date);
}

/** Rewrite every <time data-local> under `root` that is not rewritten yet. */
export function localizeTimes(root = document) {
  for (const element of root.querySelectorAll("time[data-local]:not([data-localized])")) {
    const date = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    element.title = `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
    element.textContent = localTime(date);
    element.dataset.localized = "";
  }
}

localizeTimes();
