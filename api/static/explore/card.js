// A fact's card: what it says, who said it, how sure, what it relates to, and its history.

import { fetchRevisions } from "./api.js";
import { el, when, words } from "./dom.js";
import { KIND_LABEL, corrected, retracted } from "./facts.js";
import { readAsset, readIncidentFigures } from "./quantity.js";
import { articleBadge, citedArticleName, sourcingBadge, sourcingNote } from "./recall.js";

const actorLink = (actor) =>
  actor ? el("a", { href: `#/actor/${actor.id}`, class: "actor" }, actor.name) : null;
const actorList = (actors) =>
  actors.length ? actors.flatMap((a, i) => [i ? ", " : "", actorLink(a)]) : "—";

/** A definition list from [label, value, field] rows, skipping empty values. */
function facts(rows) {
  return el(
    "dl",
    { class: "card-facts" },
    rows
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([label, value, field]) => [el("dt", {}, label), el("dd", { dataset: field ? { field } : {} }, value)]),
  );
}

function claimBody(c, ctx) {
  // No speaker and no description: the claim does not say who, which is not an unnamed source.
  const speaker = c.speaker
    ? actorLink(c.speaker)
    : c.speakerDescription
      ? el("span", { class: "unnamed" }, `Unnamed source: ${c.speakerDescription}`)
      : "—";
  const related = (label, claims) =>
    claims.length
      ? [
          label,
          el(
            "ul",
            { class: "related" },
            claims.map((r) =>
              el("li", {}, ctx.has(r.id) ? el("button", { type: "button", class: "link", onclick: () => ctx.select(r.id) }, r.statement) : r.statement),
            ),
          ),
        ]
      : [null, null];
  const [supLabel, sup] = related("Supersedes", c.supersedes);
  const [conLabel, con] = related("Contradicts", c.contradicts);
  const [sameLabel, same] = related("Same as", c.sameAs);
  return [
    el("p", { class: "statement" }, c.statement),
    c.quote ? el("blockquote", { class: "quote" }, c.quote) : null,
    facts([
      ["Quote type", words(c.quoteType), "quoteType"],
      ["Speaker", speaker, "speaker"],
      ["Reported by", c.reportedBy ? actorLink(c.reportedBy) : "—", "reportedBy"],
      ["About", actorList(c.subjects), "subjects"],
      ["Status", words(c.status), "status"],
      ["Claimed on", c.claimDate ? c.claimDate + (c.claimDatePrecision ? ` (${words(c.claimDatePrecision)})` : "") : null],
      [supLabel, sup],
      [conLabel, con],
      [sameLabel, same],
    ]),
  ];
}

function deploymentRows(d) {
  return [
    ["Deployed by", actorLink(d.deployer), "deployer"],
    ["Region", d.region?.name],
    ["Status", words(d.status), "status"],
    ["Stated purpose", d.statedPurpose],
    ["From", d.startedOn],
    ["Until", d.endedOn],
  ];
}

function deploymentBody(d, ctx) {
  return [
    facts(deploymentRows(d)),
    el("h4", {}, "Assets"),
    d.assets.length
      ? el(
          "ul",
          { class: "assets" },
          d.assets.map((a) =>
            el("li", {}, ctx.has(a.id) ? el("button", { type: "button", class: "link", onclick: () => ctx.select(a.id) }, readAsset(a)) : readAsset(a)),
          ),
        )
      : el("p", { class: "muted" }, "None listed."),
  ];
}

function assetBody(a, d) {
  return [
    el("p", { class: "quantity", dataset: { field: "quantity" } }, readAsset(a)),
    facts([
      ["Name", a.name],
      ["As written", a.quantity?.originalText ? `“${a.quantity.originalText}”` : null],
      ["Attributes", a.attributes.join(", ")],
      ["Asset type", words(a.assetType)],
    ]),
    el("h4", {}, "Part of a deployment"),
    facts(deploymentRows(d)),
  ];
}

/** "2025-09-02 – 2025-09-30 (month)"; null when no date is given. */
function period(from, to, precision) {
  const dates = [from, to].filter(Boolean).join(" – ");
  return dates ? dates + (precision ? ` (${words(precision)})` : "") : null;
}

function incidentBody(i) {
  const figures = readIncidentFigures(i);
  return [
    el("p", { class: "statement" }, i.description || words(i.incidentType)),
    figures.length ? el("p", { class: "quantity", dataset: { field: "quantity" } }, figures.join(" · ")) : null,
    facts([
      ["Type", words(i.incidentType)],
      ["Where", i.location?.name],
      ["When", period(i.occurredFrom, i.occurredTo, i.occurredPrecision)],
      [
        "Actors",
        i.actors.length
          ? el("ul", { class: "roles" }, i.actors.map((r) => el("li", {}, actorLink(r.actor) ?? "unknown", ` — ${words(r.role)}`)))
          : null,
      ],
    ]),
  ];
}

/** Where the fact cites this article: each passage (choosing one shows it in the text), or why the
 *  passages cannot be shown. A withheld text's words are not echoed from the references either. */
function inTheText(item, ctx) {
  if (ctx.noText) return el("p", { class: "muted no-passage" }, ctx.noText);
  return el(
    "ul",
    { class: "card-refs" },
    item.refs.map((r) => el("li", {}, el("button", { type: "button", class: "link", onclick: () => ctx.reveal(item.id) }, `“${r.quoteText}”`))),
  );
}

/** The other articles the fact cites, once each, linked to the fact there; a stub is named for what it is. */
function elsewhere(item, ctx) {
  const seen = new Map();
  for (const r of item.fact.references ?? []) {
    const key = r.article?.id ?? null;
    if (key !== ctx.articleId && !seen.has(key)) seen.set(key, r.article);
  }
  if (!seen.size) return null;
  return [
    el("h4", {}, "Also cited in"),
    el(
      "ul",
      { class: "cited-elsewhere" },
      [...seen.values()].map((a) =>
        el(
          "li",
          {},
          a
            ? [el("a", { href: `#/article/${a.id}?fact=${item.id}` }, citedArticleName(a)), a.headline != null ? [" ", articleBadge(a)] : null]
            : el("span", { class: "muted" }, "an article that is not available"),
        ),
      ),
    ),
  ];
}

/** The card for `item`; ctx: {has(id), select(id), reveal(id), showAsOf(iso), close(), articleId,
 *  noText (why this article's text is not shown, or null)}. */
export function renderCard(item, ctx) {
  const body =
    item.kind === "claim"
      ? claimBody(item.fact, ctx)
      : item.kind === "deployment"
        ? deploymentBody(item.fact, ctx)
        : item.kind === "asset"
          ? assetBody(item.fact, item.owner)
          : incidentBody(item.fact);
  const badges = [
    retracted(item) ? el("span", { class: "badge retracted" }, "retracted") : null,
    corrected(item) ? el("span", { class: "badge corrected" }, "corrected") : null,
    sourcingBadge(item.owner),
  ];
  const history = el("section", { class: "history", "aria-label": "History" });
  const owner = item.owner;
  const versions = owner.revisions?.length ?? 0;
  history.append(
    versions
      ? el(
          "button",
          { type: "button", class: "secondary", onclick: () => showHistory(history, owner.id, ctx) },
          `History (${versions} version${versions === 1 ? "" : "s"})`,
        )
      : el("p", { class: "muted" }, "No history is available to you."),
  );
  return el(
    "article",
    { class: `card ${item.kind}${retracted(item) ? " is-retracted" : ""}`, dataset: { factId: item.id }, "aria-live": "polite" },
    el(
      "header",
      {},
      el("span", { class: `kind ${item.kind}` }, KIND_LABEL[item.kind]),
      ...badges,
      el("button", { type: "button", class: "secondary close", "aria-label": "Close the card", onclick: () => ctx.close() }, "×"),
    ),
    sourcingNote(item.owner),
    body,
    el("h4", {}, "In the text"),
    inTheText(item, ctx),
    elsewhere(item, ctx),
    history,
  );
}

const META = new Set(["version", "updatedAt", "createdAt", "object"]);

/** What changed between two snapshots, key by key (short values in full, long ones abridged). */
function changes(before, after) {
  const show = (v) => {
    const text = typeof v === "string" ? `“${v}”` : JSON.stringify(v);
    return text === undefined ? "—" : text.length > 160 ? text.slice(0, 157) + "…" : text;
  };
  return Object.keys({ ...before, ...after })
    .filter((k) => !META.has(k) && JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k]))
    .map((k) => el("li", {}, el("code", {}, k), ": ", el("del", {}, show(before?.[k])), " → ", el("ins", {}, show(after?.[k]))));
}

async function showHistory(section, id, ctx) {
  section.replaceChildren(el("p", { class: "muted" }, "Loading the history…"));
  let revisions;
  try {
    revisions = await fetchRevisions(id);
  } catch (err) {
    section.replaceChildren(el("p", { class: "error" }, `Could not load the history: ${err.message}`));
    return;
  }
  const rows = revisions.map((r, i) => {
    const before = i ? revisions[i - 1].snapshot : null;
    // Just before this version: the article's facts without this change.
    const justBefore = new Date(new Date(r.changedAt).getTime() - 1).toISOString();
    return el(
      "li",
      { class: `revision ${r.changeKind}` },
      el(
        "p",
        {},
        el("strong", {}, `v${r.version} `),
        el("span", { class: `badge ${r.changeKind}` }, r.changeKind === "corrected" ? "correction" : words(r.changeKind)),
        " ",
        el("time", { datetime: r.changedAt }, when(r.changedAt)),
        r.changedBy ? el("span", { class: "muted" }, ` by ${r.changedBy}`) : null,
      ),
      r.reason ? el("p", { class: "reason" }, "Why: ", r.reason) : null,
      before ? el("ul", { class: "changes" }, changes(before, r.snapshot)) : null,
      i ? el("button", { type: "button", class: "secondary", onclick: () => ctx.showAsOf(justBefore) }, "See the article before this change") : null,
    );
  });
  section.replaceChildren(el("h4", {}, "History"), el("ol", { class: "revisions" }, rows));
}
