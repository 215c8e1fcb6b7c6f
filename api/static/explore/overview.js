// The explorer's overview (/explore/overview): facet filters, a timeline, a map and totals of all
// the facts at once, on the public API only — one GraphQL request for every count (facets with
// excludeOwnFilter, histograms, bounded sums) and the REST GeoJSON lists for the map. The state
// lives in the URL; new facts re-count within a second through the public event stream.

import { fetchFact, authHeaders, gql } from "./api.js";
import { el, fill, when, words } from "./dom.js";
import { summary } from "./facts.js";
import { follow } from "./live.js";
import { createMap, placeName } from "./overview-map.js";
import { FACETS, INTERVALS, fromEnum, graphqlFilter, hasFilters, readState, restParams, writeState } from "./overview-state.js";
import { SERIES, impreciseNotes, mergeBuckets, renderChart, renderTable } from "./overview-timeline.js";
import { renderTotals } from "./overview-totals.js";

const KINDS = ["claim", "deployment", "incident", "article"];
const TYPES = KINDS.flatMap((k) => ["created", "updated", "corrected", "retracted"].map((c) => `${k}.${c}`));
const FACET_TITLES = {
  status: "Status", quoteType: "Quote type", speaker: "Speaker", subjects: "Subjects", sourcing: "Sourcing",
  assetType: "Asset type", deployer: "Deployer", incidentType: "Incident type",
}; // prettier-ignore
const KIND_TITLES = { claim: "Claims", deployment: "Deployments", incident: "Incidents" };
const PLURAL = { claim: "claims", deployment: "deployments", incident: "incidents" };
const MAP_PAGES = 5; // at most 500 facts of each kind on the map

const buckets = (first, actor) =>
  `(first: ${first}) { buckets { ${actor ? "value { id name }" : "value"} count } otherCount missingCount }`;
const facetFields = (kind) =>
  FACETS[kind].map(([name, , spelling]) => `${name}${buckets(spelling === "actor" ? 12 : 20, spelling === "actor")}`).join(" ");
const SUM = "unit count low best high openUpper unknown approximate";
const HIST = "buckets { start end count } imprecise missingCount";

const QUERY = `query Overview($c: ClaimFilter, $ct: ClaimFilter, $d: DeploymentFilter, $i: IncidentFilter,
  $it: IncidentFilter, $a: ArticleFilter, $at: DateTime, $iv: CalendarInterval!) {
  claims(filter: $c, asOf: $at) { totalCount facets(excludeOwnFilter: true) { ${facetFields("claim")} } }
  claimTime: claims(filter: $ct, asOf: $at) { histogram(on: CLAIM_DATE, interval: $iv) { ${HIST} }
    byMonth: histogram(on: CLAIM_DATE, interval: MONTH) { imprecise } }
  deployments(filter: $d, asOf: $at) { totalCount facets(excludeOwnFilter: true) { ${facetFields("deployment")} }
    aggregate(groupBy: ASSET_TYPE) { totalCount groups { key totalCount assets { ${SUM} } } } }
  incidents(filter: $i, asOf: $at) { totalCount facets(excludeOwnFilter: true) { ${facetFields("incident")} }
    aggregate { totalCount fatalities { ${SUM} } count { ${SUM} } injuries { ${SUM} } } }
  incidentTime: incidents(filter: $it, asOf: $at) { histogram(on: OCCURRED_FROM, interval: $iv) { ${HIST} }
    byMonth: histogram(on: OCCURRED_FROM, interval: MONTH) { imprecise } }
  articleTime: articles(filter: $a, asOf: $at) { totalCount histogram(on: PUBLISHED_AT, interval: $iv) { ${HIST} } }
}`;

/** Every page (up to MAP_PAGES) of a kind's GeoJSON under the state's filters. */
async function features(s, kind) {
  const q = restParams(s, kind);
  q.set("format", "geojson");
  q.set("limit", "100");
  const out = [];
  for (let page = 0; page < MAP_PAGES; page++) {
    const res = await fetch(`/v1/${PLURAL[kind]}?${q}`, { headers: authHeaders() });
    if (!res.ok) throw new Error(`the map's ${PLURAL[kind]}: HTTP ${res.status}`);
    const doc = await res.json();
    out.push(...doc.features.filter((f) => f.geometry));
    if (!doc.hasMore || !doc.nextCursor) break;
    q.set("cursor", doc.nextCursor);
  }
  return out;
}

function start() {
  const main = document.getElementById("main");
  let s = readState(location.search);
  let latest = 0;
  let pending = null;

  const status = el("p", { class: "status muted", role: "status", "aria-live": "polite" }, "Loading…");
  const liveEl = el("span", { class: "live", dataset: { live: "off" } }, "connecting…");
  const asOfInput = el("input", { type: "datetime-local", step: "1", id: "as-of", name: "asOf" });
  const asOfBanner = el("p", { class: "as-of-banner", role: "status", hidden: true });
  const facetsEl = el("div", { class: "facets" });
  const totalsEl = el("div", { class: "totals", id: "totals" });
  const chartEl = el("div", { class: "chart-slot" });
  const notesEl = el("ul", { class: "imprecise", id: "imprecise" });
  const tableEl = el("div", { class: "table-slot" });
  const rangeEl = el("p", { class: "range muted", id: "range" });
  const mapEl = el("div", { class: "map-slot" });
  const mappedEl = el("ol", { class: "mapped", id: "mapped", "aria-label": "Mapped facts" });
  const areaEl = el("p", { class: "range muted", id: "area" });
  const cardEl = el("div", { class: "overview-card", id: "overview-card", tabindex: "-1" });
  const fromInput = el("input", { type: "date", id: "from", name: "from" });
  const toInput = el("input", { type: "date", id: "to", name: "to" });
  const intervalEl = el(
    "fieldset",
    { class: "interval" },
    el("legend", {}, "Buckets"),
    INTERVALS.map((iv) =>
      el(
        "label",
        {},
        el("input", { type: "radio", name: "interval", value: iv, onchange: () => change({ interval: iv }) }),
        ` ${iv}`,
      ),
    ),
  );

  const map = createMap(mapEl, {
    onBox: (bbox) => change({ bbox }),
    onPick: (f) => openCard(f.properties.object, f.id),
  });

  main.replaceChildren(
    el("div", { class: "overview-head" },
      el("h1", {}, "Overview"),
      el("form", {
          class: "as-of",
          onsubmit: (e) => (e.preventDefault(), asOfInput.value && change({ asOf: new Date(asOfInput.value + "Z").toISOString() })),
        },
        el("label", { for: "as-of" }, "As of (UTC)"), asOfInput,
        el("button", { type: "submit" }, "Show"),
        el("button", { type: "button", class: "secondary", onclick: () => change({ asOf: null }) }, "Now"),
      ),
      el("button", { type: "button", class: "secondary", id: "clear-all", onclick: () => change({ ...readState(""), interval: s.interval, asOf: s.asOf }) }, "Clear filters"),
      liveEl,
    ),
    asOfBanner,
    status,
    el("div", { class: "overview" },
      el("aside", { class: "panel facets-panel", "aria-label": "Filters" }, el("h2", {}, "Filters"), facetsEl),
      el("div", { class: "panels" },
        el("section", { class: "panel", "aria-labelledby": "totals-h" }, el("h2", { id: "totals-h" }, "Totals"), totalsEl),
        el("section", { class: "panel", "aria-labelledby": "timeline-h" },
          el("h2", { id: "timeline-h" }, "Timeline"),
          el("div", { class: "timeline-tools" },
            intervalEl,
            el("form", { class: "dates", onsubmit: (e) => (e.preventDefault(), change({ from: fromInput.value || null, to: toInput.value || null })) },
              el("label", { for: "from" }, "From"), fromInput, el("label", { for: "to" }, "to"), toInput,
              el("button", { type: "submit", class: "secondary" }, "Set dates"),
              el("button", { type: "button", class: "secondary", onclick: () => change({ from: null, to: null }) }, "All dates"),
            ),
          ),
          el("p", { class: "legend" }, SERIES.map(([key, name]) => el("span", { class: `sample ${key}` }, name))),
          chartEl, rangeEl, notesEl,
          el("details", {}, el("summary", {}, "Table of the counts"), tableEl),
        ),
        el("section", { class: "panel", "aria-labelledby": "map-h" },
          el("h2", { id: "map-h" }, "Map"),
          el("p", { class: "legend" }, el("span", { class: "sample deployment" }, "Deployments"), el("span", { class: "sample incident" }, "Incidents"), el("span", { class: "sample cluster" }, "Several")),
          mapEl, areaEl, cardEl,
          el("details", {}, el("summary", {}, "List of the mapped facts"), mappedEl),
        ),
      ),
    ),
  ); // prettier-ignore

  function change(patch) {
    s = { ...s, ...patch };
    history.replaceState(null, "", `${location.pathname}${writeState(s)}`);
    refresh();
  }

  function refresh() {
    clearTimeout(pending);
    pending = null;
    load(++latest);
  }

  async function load(mine) {
    main.setAttribute("aria-busy", "true");
    const variables = {
      c: graphqlFilter(s, "claim"),
      ct: graphqlFilter(s, "claim", { dates: false }),
      d: graphqlFilter(s, "deployment"),
      i: graphqlFilter(s, "incident"),
      it: graphqlFilter(s, "incident", { dates: false }),
      a: graphqlFilter(s, "article", { dates: false }),
      at: s.asOf,
      iv: s.interval.toUpperCase(),
    };
    try {
      const [data, deployments, incidents] = await Promise.all([
        gql(QUERY, variables),
        features(s, "deployment"),
        features(s, "incident"),
      ]);
      if (mine !== latest) return; // a later change is loading: it draws
      draw(data, [...deployments, ...incidents]);
      status.textContent = hasFilters(s) ? "Filtered: every panel shows only the facts chosen." : "All facts.";
      main.dataset.loaded = String(mine);
    } catch (err) {
      if (mine === latest) status.textContent = `Could not load the overview: ${err.message}`;
    } finally {
      if (mine === latest) main.removeAttribute("aria-busy");
    }
  }

  function draw(data, mapped) {
    fill(facetsEl, Object.keys(FACETS).map((kind) => facetGroup(kind, data[PLURAL[kind]])));
    fill(totalsEl, renderTotals(data));
    const merged = mergeBuckets(data, s.interval);
    fill(chartEl, renderChart(merged, { interval: s.interval, from: s.from, to: s.to, width: chartEl.clientWidth, onBrush: (from, to) => change({ from, to }) }));
    fill(tableEl, renderTable(merged, s.interval));
    fill(notesEl, impreciseNotes(data, s.interval));
    rangeEl.textContent = s.from || s.to ? `Dates: ${s.from ?? "…"} to ${s.to ?? "…"} (drag across the chart to choose others).` : "Drag across the chart to narrow the other panels to those dates.";
    fromInput.value = s.from ?? "";
    toInput.value = s.to ?? "";
    for (const input of intervalEl.querySelectorAll("input")) input.checked = input.value === s.interval;
    asOfInput.value = s.asOf ? s.asOf.slice(0, 19) : "";
    asOfBanner.hidden = !s.asOf;
    asOfBanner.textContent = s.asOf ? `Showing the counts as they stood at ${when(s.asOf)} (UTC ${s.asOf}); live updates are paused.` : "";
    map.draw(mapped, s.bbox);
    areaEl.textContent = s.bbox
      ? `Area: ${s.bbox.join(", ")} (west, south, east, north) narrows deployments and incidents; claims and articles have no place.`
      : "Drag on the map to draw an area; it narrows deployments and incidents.";
    fill(
      mappedEl,
      mapped.map((f) =>
        el(
          "li",
          { dataset: { id: f.id, kind: f.properties.object } },
          el("button", { type: "button", class: "link", onclick: () => openCard(f.properties.object, f.id) }, `${KIND_TITLES[f.properties.object].slice(0, -1)}: ${placeName(f)}`),
          ` ${mappedLabel(f)}`,
        ),
      ),
    );
  }

  function mappedLabel(f) {
    const p = f.properties;
    const [lon, lat] = f.geometry.type === "Point" ? f.geometry.coordinates : [null, null];
    const where = lon === null ? "" : ` at ${lat.toFixed(2)}°, ${lon.toFixed(2)}°`;
    const what = p.object === "incident" ? ` — ${p.incidentType}${p.occurredFrom ? `, ${p.occurredFrom}` : ""}` : p.startedOn ? ` — since ${p.startedOn}` : "";
    return `${where}${what}`;
  }

  function facetGroup(kind, connection) {
    return el(
      "section",
      { class: "facet-kind", dataset: { kind } },
      el("h3", {}, `${KIND_TITLES[kind]} `, el("span", { class: "muted", dataset: { count: kind } }, `(${connection.totalCount})`)),
      FACETS[kind].map(([name, , spelling]) => {
        const facet = connection.facets[name];
        const chosen = s.chosen[kind][name];
        const value = (b) => (spelling === "actor" ? b.value?.id : spelling === "enum" ? fromEnum(b.value) : b.value);
        const text = (b) => (spelling === "actor" ? b.value?.name ?? "(unknown actor)" : spelling === "enum" ? words(b.value) : b.value);
        const shown = facet.buckets.filter((b) => value(b));
        // A chosen value the counts no longer list (another filter left it no facts) stays shown at 0.
        for (const v of chosen) if (!shown.some((b) => value(b) === v)) shown.push({ value: spelling === "enum" ? v.replace(/([A-Z])/g, "_$1").toUpperCase() : spelling === "actor" ? { id: v, name: v } : v, count: 0 });
        if (!shown.length) return null;
        return el(
          "fieldset",
          { class: "facet", dataset: { facet: `${kind}.${name}` } },
          el("legend", {}, FACET_TITLES[name]),
          shown.map((b) => {
            const v = value(b);
            const id = `f-${kind}-${name}-${v}`.replace(/[^\w-]/g, "_");
            return el(
              "label",
              { for: id, class: "bucket", dataset: { value: v, count: b.count } },
              el("input", {
                type: "checkbox", id, checked: chosen.includes(v),
                onchange: (e) => {
                  const next = e.target.checked ? [...chosen, v] : chosen.filter((x) => x !== v);
                  change({ chosen: { ...s.chosen, [kind]: { ...s.chosen[kind], [name]: next } } });
                },
              }), // prettier-ignore
              el("span", { class: "name" }, text(b)),
              el("span", { class: "n" }, String(b.count)),
            );
          }),
          facet.otherCount ? el("p", { class: "muted small" }, `${facet.otherCount} more in other values`) : null,
          facet.missingCount ? el("p", { class: "muted small" }, `${facet.missingCount} without one`) : null,
        );
      }),
    );
  }

  async function openCard(kind, id) {
    fill(cardEl, el("p", { class: "muted" }, "Loading…"));
    cardEl.hidden = false;
    try {
      const fact = await fetchFact(kind, id);
      if (!fact) return fill(cardEl, el("p", {}, "This fact is not readable now."));
      const refs = [...(fact.references ?? []), ...(fact.assets ?? []).flatMap((a) => a.references ?? [])];
      const article = refs.find((r) => r.article)?.article;
      fill(
        cardEl,
        el("h3", {}, `${KIND_TITLES[kind].slice(0, -1)}: `, summary({ kind, fact })),
        kind === "deployment" && fact.assets.length
          ? el("ul", {}, fact.assets.map((a) => el("li", {}, summary({ kind: "asset", fact: a }))))
          : null,
        refs[0] ? el("blockquote", {}, `“${refs[0].quoteText}”`) : null,
        article
          ? el("p", {}, el("a", { href: `/explore#/article/${article.id}?fact=${id}`, class: "open-article" }, `Read it in “${article.headline ?? article.id}”, the span highlighted`))
          : null,
        el("button", { type: "button", class: "secondary", onclick: () => ((cardEl.hidden = true), mapEl.querySelector("svg")?.focus()) }, "Close"),
      );
      cardEl.focus();
    } catch (err) {
      fill(cardEl, el("p", { class: "error" }, `Could not load the fact: ${err.message}`));
    }
  }
  cardEl.hidden = true;

  // Live: any change to a fact re-counts (debounced a little: a bulk write is one re-count), unless
  // the page shows a past moment.
  follow({
    types: TYPES,
    headers: authHeaders,
    onState: (state) => {
      liveEl.dataset.live = state === "live" ? "on" : "off";
      liveEl.textContent = state === "live" ? "● live" : "reconnecting…";
    },
    onEvent: () => {
      if (s.asOf || pending) return;
      pending = setTimeout(refresh, 150);
    },
  });
  refresh();
}

start();
