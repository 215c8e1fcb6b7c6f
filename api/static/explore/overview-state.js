// The overview's state — the chosen facet values, the brushed dates, the drawn box, the interval and
// the as-of time — and how it lives in the URL (so a view can be shared) and becomes the API's
// filters: GraphQL filter inputs for the counts, REST query parameters for the map's GeoJSON.

// The facets each kind offers: [facet name, its any-of filter, how values are spelled].
// "enum": GraphQL spells them UPPER_SNAKE, REST and the URL camelCase; "actor": actor ids.
export const FACETS = {
  claim: [
    ["status", "statusIn", "enum"],
    ["quoteType", "quoteTypeIn", "enum"],
    ["speaker", "speakerIn", "actor"],
    ["subjects", "subjectIn", "actor"],
    ["sourcing", "sourcingIn", "enum"],
  ],
  deployment: [
    ["assetType", "assetTypeIn", "enum"],
    ["deployer", "deployerIn", "actor"],
  ],
  incident: [["incidentType", "incidentTypeIn", "text"]],
};

// Each kind's date filters, which the timeline's brush sets (articles' publishedTo is exclusive).
const DATE_FILTERS = {
  claim: ["claimDateFrom", "claimDateTo"],
  deployment: ["startedFrom", "startedTo"],
  incident: ["occurredFrom", "occurredTo"],
};
// The kinds with a place: the drawn box narrows only them.
export const MAPPED = ["deployment", "incident"];
export const INTERVALS = ["day", "week", "month"];

export const toEnum = (value) => value.replace(/([A-Z])/g, "_$1").toUpperCase();
export const fromEnum = (value) => value.toLowerCase().replace(/_([a-z])/g, (_, c) => c.toUpperCase());

/** The state a URL's query string describes. */
export function readState(search) {
  const q = new URLSearchParams(search);
  const chosen = {};
  for (const [kind, facets] of Object.entries(FACETS)) {
    chosen[kind] = {};
    for (const [name] of facets) {
      const raw = q.get(`${kind}.${name}`);
      chosen[kind][name] = raw ? raw.split(",").filter(Boolean) : [];
    }
  }
  const day = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v ?? "") ? v : null);
  const box = (q.get("bbox") ?? "").split(",").map(Number);
  const interval = q.get("interval");
  const asOf = q.get("asOf");
  return {
    chosen,
    from: day(q.get("from")),
    to: day(q.get("to")),
    bbox: box.length === 4 && box.every(Number.isFinite) ? box : null,
    interval: INTERVALS.includes(interval) ? interval : "month",
    asOf: asOf && !isNaN(new Date(asOf)) ? new Date(asOf).toISOString() : null,
  };
}

/** The query string of a state (only what differs from the defaults). */
export function writeState(s) {
  const q = new URLSearchParams();
  for (const [kind, facets] of Object.entries(s.chosen)) {
    for (const [name, values] of Object.entries(facets)) if (values.length) q.set(`${kind}.${name}`, values.join(","));
  }
  if (s.from) q.set("from", s.from);
  if (s.to) q.set("to", s.to);
  if (s.bbox) q.set("bbox", s.bbox.map((n) => +n.toFixed(3)).join(","));
  if (s.interval !== "month") q.set("interval", s.interval);
  if (s.asOf) q.set("asOf", s.asOf);
  const text = q.toString().replaceAll("%2C", ",");
  return text ? `?${text}` : "";
}

/** A kind's filters as {name: value} in REST's spelling; `dates` and `box` say whether the brushed
 *  dates and the drawn box apply (the timeline leaves its own brush out, as a facet its own filter). */
function filtersOf(s, kind, { dates = true, box = true } = {}) {
  const out = {};
  for (const [name, filter] of FACETS[kind] ?? []) {
    const values = s.chosen[kind]?.[name] ?? [];
    if (values.length) out[filter] = values;
  }
  if (dates && (s.from || s.to)) {
    if (kind === "article") {
      if (s.from) out.publishedFrom = `${s.from}T00:00:00Z`;
      if (s.to) out.publishedTo = new Date(Date.parse(`${s.to}T00:00:00Z`) + 86400000).toISOString();
    } else {
      const [from, to] = DATE_FILTERS[kind];
      if (s.from) out[from] = s.from;
      if (s.to) out[to] = s.to;
    }
  }
  if (box && s.bbox && MAPPED.includes(kind)) out.bbox = s.bbox;
  return out;
}

/** A kind's filters as a GraphQL filter input (enum values in UPPER_SNAKE). */
export function graphqlFilter(s, kind, options) {
  const out = filtersOf(s, kind, options);
  for (const [, filter, spelling] of FACETS[kind] ?? []) {
    if (out[filter] && spelling === "enum") out[filter] = out[filter].map(toEnum);
  }
  return out;
}

/** A kind's filters as REST query parameters (lists comma-separated), with asOf. */
export function restParams(s, kind, options) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(filtersOf(s, kind, options))) {
    q.set(name, Array.isArray(value) ? value.join(",") : value);
  }
  if (s.asOf) q.set("asOf", s.asOf);
  return q;
}

export function hasFilters(s) {
  return Boolean(s.from || s.to || s.bbox || Object.values(s.chosen).some((f) => Object.values(f).some((v) => v.length)));
}
