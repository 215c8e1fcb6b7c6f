// The article view: the body with every fact's reference spans highlighted, the facts beside it in
// reading order, a card for the chosen one, an "as of" control, live changes, and new claims made
// from a selection.

import { ARTICLE, authHeaders, fetchAsOf, fetchFact, gql, hasKey } from "./api.js";
import { renderArticleHead } from "./article-head.js";
import { renderCard } from "./card.js";
import { openClaimForm } from "./claim-form.js";
import { el, when } from "./dom.js";
import { KIND_LABEL, citesArticle, corrected, itemsOf, retracted, spansOf, summary } from "./facts.js";
import { follow } from "./live.js";
import { isRecalled, isWithdrawn, sourcingBadge } from "./recall.js";
import { renderBody, selectionOffsets } from "./spans.js";
import { createSuggester } from "./suggest.js";

const KINDS = ["claim", "deployment", "incident"];
const CHANGES = ["created", "updated", "corrected", "retracted"];
// The event types this view follows: its facts' changes and sourcing, and the article's own
// changes and recalls (db/kinds.py's catalogue; the stream refuses a type it does not know).
const TYPES = [
  ...KINDS.flatMap((k) => [...CHANGES, "sourcing_changed"].map((v) => `${k}.${v}`)),
  ...[...CHANGES, "withheld", "canceled", "released"].map((v) => `article.${v}`),
];
const VERB = {
  created: "added", updated: "updated", corrected: "corrected", retracted: "retracted",
  withheld: "withheld", canceled: "canceled", released: "released",
}; // prettier-ignore
const SOURCING_WORDS = { SUPPORTED: "supported again", PARTLY_WITHDRAWN: "partly withdrawn", WITHDRAWN: "withdrawn" };

/** Shows article `id` in `main`; returns a function that stops its live stream. */
export async function showArticle(main, id, { notify, selected }) {
  const s = { id, article: null, now: null, past: null, asOf: null, selected, fresh: new Set(), selection: null };

  const bodyEl = el("div", { class: "body", id: "article-body", lang: "en" });
  // Said instead of the text when there is none to show (a stub's, or the article before it existed).
  const noTextEl = el("p", { class: "no-text", role: "note", hidden: true });
  const listEl = el("ol", { class: "fact-list", "aria-label": "Facts in reading order" });
  const cardEl = el("div", { class: "card-slot" });
  const liveEl = el("span", { class: "live", dataset: { live: "off" } }, "connecting…");
  const bannerEl = el("p", { class: "as-of-banner", role: "status", hidden: true });
  const asOfInput = el("input", { type: "datetime-local", step: "1", id: "as-of", name: "asOf" });
  const selectionBar = el("div", { class: "selection-bar", role: "region", "aria-label": "Selection", hidden: true });
  const headEl = el("header", { class: "article-head" });
  const legendEl = el(
    "p",
    { class: "legend", "aria-hidden": "true" },
    ["claim", "asset", "incident", "deployment"].map((k) => el("span", { class: `sample ${k}` }, KIND_LABEL[k].toLowerCase())),
  );
  const suggester = createSuggester({
    article: () => s.now.article,
    render: () => render(),
    onAccepted: (kind, fact) => (KINDS.includes(kind) ? (upsert(kind, fact), select(fact.id, { reveal: true })) : null),
    openEdit: ({ draft, onCreated: done }) => openClaimForm({ article: s.now.article, actors: actorsOf(s.now), draft, onCreated: done }),
    notify,
  });

  const asOfForm = el(
    "form",
    {
      class: "as-of",
      onsubmit: (e) => {
        e.preventDefault();
        if (asOfInput.value) asOf(new Date(asOfInput.value).toISOString());
      },
    },
    el("label", { for: "as-of" }, "As of"),
    asOfInput,
    el("button", { type: "submit" }, "Show"),
    el("button", { type: "button", class: "secondary", onclick: () => asOf(null) }, "Now"),
  );

  main.replaceChildren(
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "← Articles")),
    headEl,
    el("div", { class: "toolbar" }, asOfForm, suggester.button(), liveEl),
    legendEl,
    bannerEl,
    el(
      "div",
      { class: "reader" },
      el("section", { class: "body-pane", "aria-label": "Article text" }, noTextEl, bodyEl),
      el("aside", { class: "facts-pane", "aria-label": "Facts" }, suggester.panel(), cardEl, el("h2", {}, "Facts in reading order"), listEl),
    ),
    selectionBar,
  );

  const data = () => (s.asOf ? s.past : s.now);
  const items = () => itemsOf(s.id, data());
  const byId = (id) => items().find((it) => it.id === id);

  /** Why the text cannot be shown ({pane, card}: said above the text and in a card), or null. */
  function noText(article) {
    if (!article) return { pane: `This article did not exist yet at ${when(s.asOf)}.`, card: "The article did not exist yet then." };
    if (article.body === "") return { pane: "This article has no text.", card: "The passage it cites cannot be shown: this article has no text." };
    if (article.body != null) return null;
    const why = isRecalled(article) ? `this article's text is ${article.pubStatus.toLowerCase()}` : "this article's text is not available";
    return {
      pane: `${why[0].toUpperCase()}${why.slice(1)}, so the passages its facts cite cannot be highlighted.`,
      card: `The passage it cites here cannot be highlighted: ${why}.`,
    };
  }

  function render() {
    const d = data();
    const list = items();
    const missing = noText(d.article);
    bodyEl.lang = s.now.article.language || "";
    noTextEl.hidden = !missing;
    noTextEl.textContent = missing?.pane ?? "";
    legendEl.hidden = Boolean(missing);
    const spans = missing ? [] : [...spansOf(list), ...(s.asOf ? [] : suggester.spans())];
    renderBody(bodyEl, missing ? "" : d.article.body, spans, (span, part) => {
      if (span.suggestion) return suggester.mark(span, part);
      const { item } = span;
      const cls = ["fact", item.kind];
      if (retracted(item)) cls.push("is-retracted");
      if (isWithdrawn(item.owner)) cls.push("is-withdrawn");
      if (corrected(item)) cls.push("is-corrected");
      if (item.id === s.selected) cls.push("is-selected");
      if (s.fresh.has(item.id) && !s.asOf) cls.push("is-fresh");
      return el("mark", {
        class: cls.join(" "),
        dataset: { factId: item.id, ref: span.refKey, part },
        // One tab stop per span: the later parts of a split span are reached with the first.
        tabindex: part === 0 ? "0" : "-1",
        role: "button",
        title: `${KIND_LABEL[item.kind]}: ${summary(item)}`,
      });
    });
    listEl.replaceChildren(
      ...list.map((item) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: `fact-item ${item.kind}${retracted(item) ? " is-retracted" : ""}${isWithdrawn(item.owner) ? " is-withdrawn" : ""}${s.fresh.has(item.id) && !s.asOf ? " is-fresh" : ""}`,
              dataset: { factId: item.id },
              "aria-pressed": String(item.id === s.selected),
              onclick: () => select(item.id, { reveal: true }),
            },
            el("span", { class: `kind ${item.kind}` }, KIND_LABEL[item.kind]),
            retracted(item) ? el("span", { class: "badge retracted" }, "retracted") : null,
            corrected(item) ? el("span", { class: "badge corrected" }, "corrected") : null,
            sourcingBadge(item.owner),
            el("span", { class: "summary" }, summary(item)),
          ),
        ),
      ),
    );
    if (!list.length) {
      listEl.append(el("li", { class: "muted none" }, s.asOf ? "No facts cited this article at that time." : "No facts you can see cite this article."));
    }
    const item = s.selected && byId(s.selected);
    cardEl.replaceChildren(
      item
        ? renderCard(item, {
            has: (fid) => Boolean(byId(fid)),
            select: (fid) => select(fid, { reveal: true }),
            reveal,
            showAsOf: asOf,
            close,
            articleId: s.id,
            noText: missing?.card ?? null,
          })
        : el(
            "p",
            { class: "muted" },
            s.selected
              ? s.asOf
                ? "This fact is not in the article at this time."
                : "This fact is not shown: it does not cite this article, or it is not available to you (a fact drawn only from withheld, canceled or retracted articles is hidden without a write key)."
              : missing
                ? "Choose a fact to see its card."
                : "Choose a highlighted passage or a fact to see its card.",
          ),
    );
    bannerEl.hidden = !s.asOf;
    bannerEl.textContent = s.asOf ? `Showing the article and its facts as they stood at ${when(s.asOf)}; later changes are hidden.` : "";
  }

  function renderHead() {
    renderArticleHead(headEl, s.now.article);
  }

  function select(fid, { reveal: scroll = false } = {}) {
    s.selected = fid;
    history.replaceState(null, "", `#/article/${s.id}?fact=${fid}`);
    render();
    if (scroll) reveal(fid);
    // On a phone the card is a sheet over the lower half: keep the chosen words above it.
    if (matchMedia("(max-width: 760px)").matches) {
      bodyEl.querySelector(`mark[data-fact-id="${fid}"]`)?.scrollIntoView({ block: "start" });
    }
  }

  function close() {
    const fid = s.selected;
    s.selected = null;
    history.replaceState(null, "", `#/article/${s.id}`);
    render();
    bodyEl.querySelector(`mark[data-fact-id="${fid}"]`)?.focus({ preventScroll: true });
  }

  function reveal(fid) {
    const mark = bodyEl.querySelector(`mark[data-fact-id="${fid}"]`);
    mark?.scrollIntoView({ block: matchMedia("(max-width: 760px)").matches ? "start" : "center" });
    mark?.focus({ preventScroll: true });
  }

  bodyEl.addEventListener("click", (e) => {
    const mark = e.target.closest("mark[data-fact-id]");
    if (mark && document.getSelection().isCollapsed) select(mark.dataset.factId);
  });
  const onKey = (e) => {
    if (e.key === "Escape" && s.selected && !document.querySelector("dialog[open]")) close();
  };
  bodyEl.addEventListener("keydown", (e) => {
    const mark = e.target.closest("mark[data-fact-id]");
    if (mark && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      select(mark.dataset.factId);
    }
  });

  async function load() {
    const { article } = await gql(ARTICLE, { id: s.id });
    if (!article) throw new Error(`no article ${s.id}`);
    s.now = {
      article,
      claims: article.claims.nodes,
      deployments: article.deployments.nodes,
      incidents: article.incidents.nodes,
    };
  }

  async function showAsOf(iso) {
    s.asOf = iso;
    if (iso) {
      const d = new Date(iso);
      // datetime-local wants local wall-clock time without a zone.
      asOfInput.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
      const known = KINDS.flatMap((k) => s.now[`${k}s`].map((f) => ({ kind: k, id: f.id })));
      const past = await fetchAsOf(s.id, known, iso);
      const of = (k) => past.facts.filter((f) => f.id.startsWith(k.slice(0, 3)));
      s.past = {
        article: past.article, // null: the article did not exist yet
        claims: of("clm"),
        deployments: of("dep"),
        incidents: of("inc"),
      };
    } else {
      asOfInput.value = "";
    }
    render();
  }

  /** showAsOf from a control: a refusal (a time out of range, a dropped connection) is a notice. */
  function asOf(iso) {
    showAsOf(iso).catch((err) => notify(`Could not show the article at that time: ${err.message}`));
  }

  async function onEvent(ev) {
    if (!s.now) return; // the first load is under way and will include it
    const change = ev.type.split(".")[1];
    if (ev.objectType === "article") {
      if (ev.objectId !== s.id) return;
      await load();
      renderHead();
      render();
      notify(`Article ${VERB[change] ?? "changed"}.`);
      return;
    }
    // ev.data may be a thin event without the fact's document (e.g. one this reader may not see).
    const known = () => s.now[`${ev.objectType}s`]?.some((f) => f.id === ev.objectId);
    if (!KINDS.includes(ev.objectType) || (!known() && !citesArticle(ev.data, s.id))) return;
    const fact = await fetchFact(ev.objectType, ev.objectId);
    const label = KIND_LABEL[ev.objectType];
    if (!fact) {
      // Not found for this reader: every article it cites is withdrawn and the key cannot write.
      if (!known()) return;
      s.now[`${ev.objectType}s`] = s.now[`${ev.objectType}s`].filter((f) => f.id !== ev.objectId);
      notify(`${label} withdrawn: every article it cites is withheld, canceled or retracted, so it is no longer shown.`);
      if (!s.asOf) render();
      return;
    }
    upsert(ev.objectType, fact);
    const ids = [fact.id, ...(fact.assets ?? []).map((a) => a.id)];
    ids.forEach((x) => s.fresh.add(x));
    setTimeout(() => {
      ids.forEach((x) => s.fresh.delete(x));
      if (!s.asOf) render();
    }, 4000);
    const what = fact.statement || fact.description || fact.region?.name || fact.id;
    const verb = change === "sourcing_changed" ? `now ${SOURCING_WORDS[fact.sourcing] ?? "re-sourced"}` : VERB[change] ?? "changed";
    notify(`${label} ${verb}: ${what}${s.asOf ? " (you are viewing an earlier time: choose Now to see it)" : ""}`);
    if (!s.asOf) render();
  }

  function onSelection() {
    if (s.asOf || !s.now || noText(s.now.article)) return;
    const sel = selectionOffsets(bodyEl);
    if (!sel) {
      if (!selectionBar.contains(document.activeElement)) selectionBar.hidden = true;
      return;
    }
    s.selection = sel;
    const preview = sel.text.length > 60 ? `${sel.text.slice(0, 57)}…` : sel.text;
    selectionBar.replaceChildren(
      el("span", { class: "preview" }, `“${preview}”`, el("span", { class: "muted" }, ` (code points ${sel.start}–${sel.end})`)),
      newClaimAction(),
    );
    selectionBar.hidden = false;
  }

  /** What the selection bar offers: the button, or why there is none. */
  function newClaimAction() {
    const a = s.now.article;
    // The API refuses a new reference into a recalled or retracted article: say so before the form.
    if (isRecalled(a) || a.retractedAt) {
      return el("span", { class: "muted" }, `New claims cannot cite a ${isRecalled(a) ? a.pubStatus.toLowerCase() : "retracted"} article.`);
    }
    if (!hasKey()) return el("span", { class: "muted" }, "Enter a write key (top of the page) to make a claim from it.");
    return el(
      "button",
      {
        type: "button",
        id: "new-claim",
        // Keep the text selected while the button is pressed.
        onmousedown: (e) => e.preventDefault(),
        onclick: () => openClaimForm({ article: a, actors: actorsOf(s.now), selection: s.selection, onCreated }),
      },
      "New claim from this selection",
    );
  }

  /** Puts the fact in the current model, replacing its older copy (s.now may have been re-read meanwhile). */
  function upsert(kind, fact) {
    const list = s.now[`${kind}s`];
    const index = list.findIndex((f) => f.id === fact.id);
    if (index === -1) list.push(fact);
    else if ((list[index].version ?? 0) <= (fact.version ?? 0)) list[index] = fact;
  }

  function onCreated(claim) {
    upsert("claim", claim);
    selectionBar.hidden = true;
    document.getSelection().removeAllRanges();
    notify(`Claim created: ${claim.statement}`);
    select(claim.id, { reveal: true });
  }

  const onSelectionChange = () => onSelection();

  await load();
  renderHead();
  render();
  if (s.selected) reveal(s.selected);
  // Document-wide listeners only once the view stands: a failed load leaves none behind.
  document.addEventListener("keydown", onKey);
  document.addEventListener("selectionchange", onSelectionChange);

  const stop = follow({
    types: TYPES,
    headers: authHeaders,
    onEvent: (ev) => onEvent(ev).catch((err) => notify(`Could not apply a live change: ${err.message}`)),
    onState: async (state) => {
      // Without a cursor the stream starts at "now": whatever committed between the first read
      // and this (re)connection is not replayed, so read the article again once subscribed.
      if (state === "live") {
        try {
          await load();
          renderHead();
          if (!s.asOf) render();
        } catch (err) {
          notify(`Could not read the article again: ${err.message}`);
        }
      }
      liveEl.dataset.live = state === "live" ? "on" : "off";
      liveEl.textContent = state === "live" ? "● live" : "reconnecting…";
    },
  });
  return () => {
    stop();
    document.removeEventListener("selectionchange", onSelectionChange);
    document.removeEventListener("keydown", onKey);
  };
}

/** Actors a new claim's speaker can be chosen from: the article's and those of its facts. */
function actorsOf({ article, claims, deployments, incidents }) {
  const all = [
    article.outlet,
    ...article.authors,
    ...article.basedOn,
    ...claims.flatMap((c) => [c.speaker, c.reportedBy, ...c.subjects]),
    ...deployments.map((d) => d.deployer),
    ...incidents.flatMap((i) => i.actors.map((r) => r.actor)),
  ].filter(Boolean);
  const unique = new Map(all.map((a) => [a.id, a]));
  return [...unique.values()].sort((a, b) => a.name.localeCompare(b.name));
}
