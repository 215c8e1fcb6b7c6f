// An article's facts as the page shows them: one item per claim, deployment, deployment asset and
// incident, each with its reference spans in this article, in reading order.

import { readAsset, readIncidentFigures } from "./quantity.js";
import { words } from "./dom.js";
import { isStub } from "./recall.js";

export const KIND_LABEL = { claim: "Claim", deployment: "Deployment", asset: "Deployment asset", incident: "Incident" };
const KIND_ORDER = { claim: 0, deployment: 1, asset: 2, incident: 3 };

const refsIn = (refs, articleId) => (refs ?? []).filter((r) => r.article?.id === articleId);

/** Items for the facts ({article, claims, deployments, incidents}) that cite articleId, in reading
 *  order. A reader given the article's stub gets no reference into it either (the API leaves them
 *  out), so the facts listed under a stub are kept without spans (an asset is shown by its refs). */
export function itemsOf(articleId, { article, claims, deployments, incidents }) {
  const stub = isStub(article);
  const items = [];
  const add = (kind, fact, owner, refs) => items.push({ kind, id: fact.id, fact, owner, refs: refsIn(refs, articleId) });
  for (const c of claims) add("claim", c, c, c.references);
  for (const d of deployments) {
    add("deployment", d, d, d.references);
    for (const a of d.assets) add("asset", a, d, a.references);
  }
  for (const i of incidents) add("incident", i, i, i.references);
  const first = (item) => Math.min(...item.refs.map((r) => r.charStart));
  return items
    .filter((item) => item.refs.length || (stub && item.kind !== "asset"))
    .sort((a, b) => first(a) - first(b) || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.id < b.id ? -1 : 1));
}

/** The spans renderBody draws: one per reference of each item. */
export function spansOf(items) {
  return items.flatMap((item) =>
    item.refs.map((r, i) => ({ start: r.charStart, end: r.charEnd, item, refKey: `${item.id}#${i}` })),
  );
}

/** Whether the fact (or, for an asset, its deployment) had been corrected by its version shown
 *  (revisions always lists every version, even on a fact read asOf) / is retracted. */
export const corrected = (item) =>
  (item.owner.revisions ?? []).some((r) => r.changeKind === "corrected" && r.version <= item.owner.version);
export const retracted = (item) => Boolean(item.owner.retractedAt);

/** One line that names the fact in a list. */
export function summary(item) {
  const f = item.fact;
  switch (item.kind) {
    case "claim":
      return f.statement;
    case "deployment":
      return [f.deployer?.name, f.region?.name].filter(Boolean).join(" → ") || `Deployment (${words(f.status)})`;
    case "asset":
      return f.name ? `${readAsset(f)} (${f.name})` : readAsset(f);
    case "incident":
      return [words(f.incidentType), readIncidentFigures(f).join(", ")].filter(Boolean).join(" — ");
  }
  return item.id;
}

/** Whether an event's data (the fact's REST document) cites the article. */
export function citesArticle(doc, articleId) {
  const cites = (refs) => (refs ?? []).some((r) => r.article === articleId);
  return cites(doc?.references) || (doc?.assets ?? []).some((a) => cites(a.references));
}
