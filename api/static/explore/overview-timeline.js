// The timeline: claims, incidents and articles by day, week or month (the API's calendar
// histograms, merged by bucket), drawn as stacked SVG bars. Dragging across it brushes a range of
// dates, which narrows the other panels; facts dated less precisely than the interval are said in
// words, never pushed into a bucket. A table of the counts is its text alternative.

import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};
export const SERIES = [
  ["claims", "Claims", "claimTime"],
  ["incidents", "Incidents", "incidentTime"],
  ["articles", "Articles", "articleTime"],
];
const DAY = 86400000;

/** The next bucket's start after `t` (ms, UTC) for an interval. */
function next(t, interval) {
  if (interval === "day") return t + DAY;
  if (interval === "week") return t + 7 * DAY;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

const iso = (t) => new Date(t).toISOString().slice(0, 10);

/** Consecutive buckets {start, end, claims, incidents, articles} over every series' range. */
export function mergeBuckets(data, interval) {
  const counts = new Map();
  for (const [key, , alias] of SERIES) {
    for (const b of data[alias].histogram.buckets) {
      const t = Date.parse(b.start);
      const row = counts.get(t) ?? {};
      row[key] = b.count;
      counts.set(t, row);
    }
  }
  const starts = [...counts.keys()].sort((a, b) => a - b);
  if (!starts.length) return [];
  const out = [];
  // Weeks start on the histogram's Mondays; the series agree on them, so stepping from the first works.
  for (let t = starts[0]; t <= starts.at(-1) && out.length < 2000; t = next(t, interval)) {
    const row = counts.get(t) ?? {};
    out.push({ start: t, end: next(t, interval), claims: row.claims ?? 0, incidents: row.incidents ?? 0, articles: row.articles ?? 0 });
  }
  return out;
}

const label = (t, interval) =>
  interval === "month"
    ? new Date(t).toLocaleDateString("en-GB", { month: "short", year: "numeric", timeZone: "UTC" })
    : new Date(t).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

/** What the histograms could not place: "12 more claims known only to the month". */
export function impreciseNotes(data, interval) {
  const notes = [];
  for (const [key, name, alias] of SERIES.slice(0, 2)) {
    const h = data[alias];
    const yearOnly = h.byMonth.imprecise;
    const monthOnly = interval === "month" ? 0 : h.histogram.imprecise - yearOnly;
    const noun = (n) => (n === 1 ? name.toLowerCase().slice(0, -1) : name.toLowerCase());
    const say = (n, what) => `${n} more ${noun(n)} known only to the ${what}`;
    if (monthOnly > 0) notes.push(el("li", { dataset: { imprecise: key } }, say(monthOnly, "month")));
    if (yearOnly > 0) notes.push(el("li", { dataset: { imprecise: `${key}-year` } }, say(yearOnly, "year")));
    const missing = h.histogram.missingCount;
    if (missing > 0) notes.push(el("li", {}, `${missing} ${noun(missing)} undated`));
  }
  return notes;
}

/** The chart (an SVG with a brush) for `buckets`; onBrush(from, to) with ISO days, or (null, null). */
export function renderChart(buckets, { interval, from, to, onBrush, width: shown = 720 }) {
  // Drawn at the width it is shown at, so its labels keep their size on a phone.
  const width = Math.max(300, Math.min(1200, shown || 720));
  const height = 180;
  const pad = { left: 34, right: 8, top: 8, bottom: 26 };
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": "Claims, incidents and articles over time (the table below lists the counts)",
  }); // prettier-ignore
  if (!buckets.length) return root;
  const top = Math.max(1, ...buckets.map((b) => b.claims + b.incidents + b.articles));
  const w = (width - pad.left - pad.right) / buckets.length;
  const y = (n) => pad.top + (height - pad.top - pad.bottom) * (1 - n / top);
  root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: "axis" }));
  const topLabel = svg("text", { x: pad.left - 4, y: pad.top + 9, class: "tick", "text-anchor": "end" });
  topLabel.textContent = String(top);
  root.append(topLabel);
  const chosen = (b) => (!from || iso(b.end - DAY) >= from) && (!to || iso(b.start) <= to);
  buckets.forEach((b, i) => {
    let base = 0;
    const g = svg("g", { class: from || to ? (chosen(b) ? "bucket in" : "bucket out") : "bucket" });
    for (const [key] of SERIES) {
      const n = b[key];
      if (!n) continue;
      g.append(svg("rect", { x: pad.left + i * w + 1, width: Math.max(1, w - 2), y: y(base + n), height: y(base) - y(base + n), class: `bar ${key}` }));
      base += n;
    }
    const title = svg("title");
    title.textContent = `${label(b.start, interval)}: ${b.claims} claims, ${b.incidents} incidents, ${b.articles} articles`;
    g.append(title);
    root.append(g);
  });
  const every = Math.max(1, Math.ceil(buckets.length / Math.max(2, Math.floor(width / 90))));
  buckets.forEach((b, i) => {
    if (i % every) return;
    const t = svg("text", { x: pad.left + i * w + w / 2, y: height - 8, class: "tick", "text-anchor": "middle" });
    t.textContent = label(b.start, interval);
    root.append(t);
  });
  // The brush: a drag across buckets chooses from the first one's start to the last one's end.
  const band = svg("rect", { y: pad.top, height: height - pad.top - pad.bottom, class: "brush", visibility: "hidden" });
  root.append(band);
  const at = (event) => {
    const box = root.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * width;
    return Math.min(buckets.length - 1, Math.max(0, Math.floor((x - pad.left) / w)));
  };
  let start = null;
  root.addEventListener("pointerdown", (e) => {
    start = at(e);
    root.setPointerCapture(e.pointerId);
  });
  root.addEventListener("pointermove", (e) => {
    if (start === null) return;
    const [a, b] = [start, at(e)].sort((p, q) => p - q);
    band.setAttribute("x", pad.left + a * w);
    band.setAttribute("width", (b - a + 1) * w);
    band.setAttribute("visibility", "visible");
  });
  root.addEventListener("pointerup", (e) => {
    if (start === null) return;
    const [a, b] = [start, at(e)].sort((p, q) => p - q);
    start = null;
    onBrush(iso(buckets[a].start), iso(buckets[b].end - DAY));
  });
  return root;
}

/** The text alternative: every bucket's counts. */
export function renderTable(buckets, interval) {
  return el(
    "table",
    { class: "counts" },
    el("caption", {}, `Counts by ${interval}`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, interval), SERIES.map(([, name]) => el("th", { scope: "col" }, name)))),
    el(
      "tbody",
      {},
      buckets
        .filter((b) => b.claims || b.incidents || b.articles)
        .map((b) =>
          el(
            "tr",
            { dataset: { start: iso(b.start) } },
            el("th", { scope: "row" }, label(b.start, interval)),
            SERIES.map(([key]) => el("td", { dataset: { series: key } }, String(b[key]))),
          ),
        ),
    ),
  );
}
