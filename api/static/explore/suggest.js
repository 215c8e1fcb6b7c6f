// "Suggest facts" (issue 27): with a write key, asks suggestFacts(article:) for candidate claims,
// quantities and actors, draws them as marks of their own (dashed, over the body), and lists them
// beside it. Each can be accepted (create<Kind>(input:) with the suggestion's input as it is),
// edited first in the claim form, or dismissed. An accepted fact is handed to the article view,
// which draws it as an ordinary highlight at once. Kept apart from article.js on purpose: the view
// only merges spans() into its body, asks mark() to draw them and places button() and panel().

import { ApiError, gql, hasKey } from "./api.js";
import { el, words } from "./dom.js";
import { readQuantity } from "./quantity.js";

const SUGGEST = `mutation Suggest($article: ID!) { suggestFacts(article: $article) {
  suggestions { reason suggestions { __typename
    ... on ClaimSuggestion { quoteType quote statement cue confidence existing createKind create
      speaker { actor name title description } references { charStart charEnd quoteText } }
    ... on QuantitySuggestion { confidence existing createKind create
      quantity { ...Qty } references { charStart charEnd quoteText } }
    ... on ActorSuggestion { name actorKind title match confidence createKind create
      references { charStart charEnd quoteText } } } }
  userErrors { path code message } } }`;

const PAYLOAD = {
  claim: "claim { ...ClaimFields }",
  deployment: "deployment { ...DeploymentFields }",
  incident: "incident { ...IncidentFields }",
  actor: "actor { id name }",
};
const TITLE = { claim: "Claim", deployment: "Deployment", incident: "Incident", actor: "Actor" };
const LABEL = { ClaimSuggestion: "Claim", QuantitySuggestion: "Quantity", ActorSuggestion: "Actor" };

/** Creates what a suggestion's createKind and create say; returns the fact, or throws with its userErrors. */
async function accept(kind, input) {
  const title = TITLE[kind];
  const data = await gql(
    `mutation Accept($input: Create${title}Input!) { create${title}(input: $input) {
      ${PAYLOAD[kind]} userErrors { path code message } } }`,
    { input },
  );
  const result = data[`create${title}`];
  if (result.userErrors.length) throw new ApiError(result.userErrors);
  return result[kind];
}

function speakerText(speaker) {
  if (!speaker) return "speaker unknown";
  if (speaker.description) return `unnamed: ${speaker.description}`;
  return speaker.title ? `${speaker.name}, ${speaker.title}` : (speaker.name ?? "a known actor");
}

function summary(s) {
  switch (s.__typename) {
    case "ClaimSuggestion":
      return `${words(s.quoteType)} — ${s.statement} (${speakerText(s.speaker)}${s.cue ? `, “${s.cue}”` : ""})`;
    case "QuantitySuggestion":
      return `${readQuantity(s.quantity, s.quantity.unit ?? "")} → ${s.createKind}`;
    default:
      return `${s.name} — ${words(s.actorKind)}${s.title ? `, ${s.title}` : ""}${s.match ? " (known)" : " (new)"}`;
  }
}

/**
 * The suggester of one article view. `article()` gives the article as the view holds it,
 * `render()` redraws the view, `onAccepted(kind, fact)` hands an accepted fact to it,
 * `openEdit(draft)` opens the claim form on a draft, `notify(text)` says what happened.
 */
export function createSuggester({ article, render, onAccepted, openEdit, notify }) {
  let list = []; // {n, s, state: "open" | "busy"}
  let asked = false;
  const status = el("p", { class: "suggest-status", role: "status" });
  const listEl = el("ol", { class: "suggestion-list", "aria-label": "Suggested facts" });
  const panel = el("section", { class: "suggestions", "aria-label": "Suggestions", hidden: true }, el("h2", {}, "Suggested facts"), status, listEl);

  async function ask() {
    status.textContent = "Reading the article…";
    panel.hidden = false;
    try {
      const data = await gql(SUGGEST, { article: article().id });
      const payload = data.suggestFacts;
      if (payload.userErrors.length) throw new ApiError(payload.userErrors);
      const found = payload.suggestions.suggestions;
      const known = found.filter((s) => s.existing);
      list = found.filter((s) => !s.existing && s.create).map((s, n) => ({ n, s, state: "open" }));
      asked = true;
      status.textContent = payload.suggestions.reason
        ? `No suggestions: ${payload.suggestions.reason}.`
        : `${list.length} suggestion${list.length === 1 ? "" : "s"}${known.length ? `; ${known.length} already among the facts` : ""}.`;
    } catch (err) {
      status.textContent = `Could not get suggestions: ${err.message}`;
    }
    draw();
    render();
  }

  function remove(entry) {
    list = list.filter((e) => e !== entry);
    draw();
    render();
  }

  async function take(entry) {
    entry.state = "busy";
    draw();
    const kind = entry.s.createKind;
    try {
      const fact = await accept(kind, entry.s.create);
      remove(entry);
      notify(`${TITLE[kind]} created from a suggestion: ${fact.statement ?? fact.name ?? fact.id}`);
      onAccepted(kind, fact);
    } catch (err) {
      entry.state = "open";
      entry.error = err.message;
      draw();
    }
  }

  function edit(entry) {
    const c = entry.s.create;
    openEdit({
      draft: { ...c, quoteType: c.quoteType.toLowerCase() },
      onCreated: (claim) => {
        remove(entry);
        onAccepted("claim", claim);
      },
    });
  }

  function draw() {
    listEl.replaceChildren(
      ...list.map((entry) =>
        el(
          "li",
          { class: `suggestion-item ${entry.s.__typename}`, id: `suggestion-${entry.n}`, dataset: { suggestion: entry.n } },
          el("span", { class: `kind suggested` }, LABEL[entry.s.__typename]),
          el("span", { class: "summary" }, summary(entry.s)),
          el("span", { class: "muted" }, ` · confidence ${Math.round(entry.s.confidence * 100)}%`),
          entry.error ? el("p", { class: "error", role: "alert" }, entry.error) : null,
          el(
            "span",
            { class: "suggestion-actions" },
            el("button", { type: "button", class: "accept", disabled: entry.state === "busy", onclick: () => take(entry) }, "Accept"),
            entry.s.createKind === "claim"
              ? el("button", { type: "button", class: "secondary edit", onclick: () => edit(entry) }, "Edit…")
              : null,
            el("button", { type: "button", class: "secondary dismiss", onclick: () => remove(entry) }, "Dismiss"),
          ),
        ),
      ),
    );
  }

  return {
    /** The "Suggest facts" button, for a write key only. */
    button() {
      return hasKey() ? el("button", { type: "button", id: "suggest-facts", onclick: ask }, asked ? "Suggest again" : "Suggest facts") : null;
    },
    panel() {
      return panel;
    },
    /** Spans for renderBody: one per reference of each open suggestion. */
    spans() {
      return list.flatMap((entry) =>
        entry.s.references.map((r, i) => ({ start: r.charStart, end: r.charEnd, suggestion: entry, refKey: `suggestion-${entry.n}#${i}` })),
      );
    },
    /** A suggestion's mark: its own style; choosing it brings its entry into view. */
    mark(span, part) {
      const entry = span.suggestion;
      return el("mark", {
        class: `suggestion ${entry.s.__typename}`,
        dataset: { suggestion: entry.n, ref: span.refKey, part },
        title: `Suggested: ${summary(entry.s)}`,
        onclick: (e) => {
          e.stopPropagation();
          const item = document.getElementById(`suggestion-${entry.n}`);
          item?.scrollIntoView({ block: "nearest" });
          item?.querySelector("button.accept")?.focus({ preventScroll: true });
        },
      });
    },
  };
}
