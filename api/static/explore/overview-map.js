// The map: deployments' regions and incidents' locations (the API's GeoJSON) over Natural Earth's
// country outlines, drawn as SVG by d3-geo (vendored under /static/geo/, loaded as globals by
// overview.html). Points closer than a cell cluster at low zoom; a cluster zooms in when chosen, a
// point opens its fact. Dragging draws a box, which narrows the other panels (bbox).

import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  return node;
};
const WIDTH = 960;
const HEIGHT = 500;
const CELL = 26; // px of the viewBox: points closer than this cluster
const MAX_ZOOM = 64;

let outlines = null;

/** The country outlines, fetched once from /static/geo/ (world-atlas's countries-110m). */
async function countries() {
  if (!outlines) {
    outlines = fetch("/static/geo/countries-110m.json")
      .then((r) => r.json())
      .then((topo) => window.topojson.feature(topo, topo.objects.countries));
  }
  return outlines;
}

/** Where a feature sits: its point, or the centroid of its shape. */
export function anchorOf(feature) {
  const g = feature.geometry;
  if (!g) return null;
  return g.type === "Point" ? g.coordinates : window.d3.geoCentroid(feature);
}

/** A map in `root`; returns {draw(features, bbox)}. onBox([minLon, minLat, maxLon, maxLat] | null),
 *  onPick(feature). */
export function createMap(root, { onBox, onPick }) {
  const d3 = window.d3;
  const view = { center: [0, 15], k: 1 };
  let features = [];
  let box = null;
  const base = d3.geoNaturalEarth1().fitExtent([[4, 4], [WIDTH - 4, HEIGHT - 4]], { type: "Sphere" });
  const baseScale = base.scale();
  const projection = d3.geoNaturalEarth1();
  const path = d3.geoPath(projection);

  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "map", tabindex: "0", role: "application",
    "aria-label": "Map of deployments and incidents. Arrow keys pan, + and − zoom; drag to draw an area. The list below names every mapped fact.",
  }); // prettier-ignore
  const land = svg("g", { class: "land" });
  const marks = svg("g", { class: "marks" });
  const boxEl = svg("polygon", { class: "area", visibility: "hidden" });
  const drawing = svg("rect", { class: "drawing", visibility: "hidden" });
  chart.append(land, boxEl, marks, drawing);

  const zoom = (factor, center = view.center) => {
    view.k = Math.min(MAX_ZOOM, Math.max(1, view.k * factor));
    view.center = view.k === 1 ? [0, 15] : center;
    render();
  };
  const pan = (dx, dy) => {
    const step = 30 / view.k;
    view.center = [view.center[0] + dx * step, Math.max(-80, Math.min(80, view.center[1] + dy * step))];
    render();
  };
  const visible = () => {
    const [w, n] = projection.invert([0, 0]);
    const [e, s] = projection.invert([WIDTH, HEIGHT]);
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    return [clamp(w, -180, 180), clamp(s, -90, 90), clamp(e, -180, 180), clamp(n, -90, 90)];
  };
  const buttons = el(
    "div",
    { class: "map-tools" },
    el("button", { type: "button", class: "secondary", "aria-label": "Zoom in", onclick: () => zoom(2) }, "+"),
    el("button", { type: "button", class: "secondary", "aria-label": "Zoom out", onclick: () => zoom(0.5) }, "−"),
    el("button", { type: "button", class: "secondary", onclick: () => ((view.k = 1), zoom(1)) }, "Whole world"),
    el("button", { type: "button", class: "secondary", onclick: () => onBox(visible()) }, "Use visible area"),
    el("button", { type: "button", class: "secondary", id: "clear-area", onclick: () => onBox(null) }, "Clear area"),
  );
  root.replaceChildren(buttons, chart);

  chart.addEventListener("keydown", (e) => {
    const keys = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    if (keys[e.key]) pan(...keys[e.key]);
    else if (e.key === "+" || e.key === "=") zoom(2);
    else if (e.key === "-") zoom(0.5);
    else return;
    e.preventDefault();
  });

  // Drawing a box: a drag that starts off any point.
  const local = (e) => {
    const r = chart.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * WIDTH, ((e.clientY - r.top) / r.height) * HEIGHT];
  };
  let from = null;
  chart.addEventListener("pointerdown", (e) => {
    if (e.target.closest(".mark")) return;
    from = local(e);
    chart.setPointerCapture(e.pointerId);
  });
  chart.addEventListener("pointermove", (e) => {
    if (!from) return;
    const [x, y] = local(e);
    drawing.setAttribute("x", Math.min(x, from[0]));
    drawing.setAttribute("y", Math.min(y, from[1]));
    drawing.setAttribute("width", Math.abs(x - from[0]));
    drawing.setAttribute("height", Math.abs(y - from[1]));
    drawing.setAttribute("visibility", "visible");
  });
  chart.addEventListener("pointerup", (e) => {
    if (!from) return;
    const to = local(e);
    const start = from;
    from = null;
    drawing.setAttribute("visibility", "hidden");
    if (Math.abs(to[0] - start[0]) < 6 || Math.abs(to[1] - start[1]) < 6) return; // a click, not a box
    // Meridians curve on this projection: the box holds every corner the reader drew.
    const [x0, x1] = [start[0], to[0]].sort((p, q) => p - q);
    const [y0, y1] = [start[1], to[1]].sort((p, q) => p - q);
    const corners = [[x0, y0], [x0, y1], [x1, y0], [x1, y1]].map((c) => projection.invert(c));
    if (corners.some((c) => !c || !c.every(Number.isFinite))) return;
    const lons = corners.map((c) => c[0]);
    const lats = corners.map((c) => c[1]);
    onBox([Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)].map((v) => +v.toFixed(3)));
  });

  // viewBox units per CSS pixel: marks and clusters keep their on-screen size on a narrow screen.
  const unit = () => Math.max(1, WIDTH / (chart.getBoundingClientRect().width || WIDTH));

  function clusters() {
    const cell = CELL * unit();
    const cells = new Map();
    for (const f of features) {
      const at = anchorOf(f);
      const p = at && projection(at);
      if (!p || p[0] < -cell || p[0] > WIDTH + cell || p[1] < -cell || p[1] > HEIGHT + cell) continue;
      const key = `${Math.floor(p[0] / cell)}:${Math.floor(p[1] / cell)}`;
      const c = cells.get(key) ?? { members: [], x: 0, y: 0, at: [0, 0] };
      c.members.push(f);
      c.x += p[0];
      c.y += p[1];
      c.at = [c.at[0] + at[0], c.at[1] + at[1]];
      cells.set(key, c);
    }
    return [...cells.values()].map((c) => {
      const n = c.members.length;
      return { ...c, x: c.x / n, y: c.y / n, at: [c.at[0] / n, c.at[1] / n] };
    });
  }

  function render() {
    projection.scale(baseScale * view.k).center(view.center).translate([WIDTH / 2, HEIGHT / 2]);
    land.replaceChildren(svg("path", { d: path({ type: "Sphere" }), class: "sphere" }));
    countries().then((geo) => {
      land.replaceChildren(svg("path", { d: path({ type: "Sphere" }), class: "sphere" }), svg("path", { d: path(geo), class: "countries" }));
    });
    if (box) {
      const [w, s, e, n] = box;
      const ring = [];
      for (let i = 0; i <= 10; i++) ring.push([w + ((e - w) * i) / 10, s]);
      for (let i = 0; i <= 10; i++) ring.push([e, s + ((n - s) * i) / 10]);
      for (let i = 0; i <= 10; i++) ring.push([e - ((e - w) * i) / 10, n]);
      for (let i = 0; i <= 10; i++) ring.push([w, n - ((n - s) * i) / 10]);
      boxEl.setAttribute("points", ring.map((p) => projection(p).join(",")).join(" "));
      boxEl.setAttribute("visibility", "visible");
    } else {
      boxEl.setAttribute("visibility", "hidden");
    }
    marks.replaceChildren(
      ...clusters().map((c) => {
        const one = c.members.length === 1 ? c.members[0] : null;
        const kind = one ? one.properties.object : "cluster";
        const name = one ? `${one.properties.object}: ${placeName(one)}` : `${c.members.length} facts here: zoom in`;
        const g = svg("g", { class: `mark ${kind}`, tabindex: "0", role: "button", "aria-label": name, "data-id": one?.id });
        const u = unit();
        const r = u * (one ? 6 : Math.min(22, 9 + 2.5 * Math.sqrt(c.members.length)));
        g.append(svg("circle", { cx: c.x, cy: c.y, r, "stroke-width": 1.5 * u }));
        if (!one) {
          const t = svg("text", { x: c.x, y: c.y + 4 * u, "text-anchor": "middle", "font-size": 12 * u });
          t.textContent = String(c.members.length);
          g.append(t);
        }
        const title = svg("title");
        title.textContent = name;
        g.append(title);
        const choose = () => (one ? onPick(one) : zoom(4, c.at));
        g.addEventListener("click", choose);
        g.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), choose()));
        return g;
      }),
    );
  }

  return {
    draw(next, bbox) {
      features = next;
      box = bbox;
      render();
    },
  };
}

/** The place a feature names (a region's or a location's name). */
export function placeName(feature) {
  const p = feature.properties;
  return (p.region ?? p.location)?.name ?? "somewhere unnamed";
}
