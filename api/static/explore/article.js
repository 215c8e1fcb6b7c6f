// The article view: the body with every fact's reference spans highlighted, the facts beside it in
// reading order, a card for the chosen one, an "as of" control, live changes, and new claims made
// from a selection.

import { ARTICLE, authHeaders, fetchAsOf, fetchFact, gql, hasKey } from "./api.js";
import { renderCard } from "./card.js";
import { openClaimForm } from "./claim-form.js";
import { el, fill, when } from "./dom.js";
import { TOPICS } from "./topics.js";
import { KIND_LABEL, citesArticle, corrected, itemsOf, retracted, spansOf, summary } from "./facts.js";
import { follow } from "./live.js";
import { renderBody, selectionOffsets } from "./spans.js";
import { createSuggester } from "./suggest.js";

const KINDS = ["claim", "deployment", "incident"];
const TYPES = [...KINDS, "article"].flatMap((k) => ["created", "updated", "corrected", "retracted"].map((v) => `${k}.${v}`));
const VERB = { created: "added", updated: "updated", corrected: "corrected", retracted: "retracted" };

/** Shows article `id` in `main`; returns a function that stops its live stream. */
export async function showArticle(main, id, { notify, selected }) {
  const s = { id, article: null, now: null, past: null, asOf: null, selected, fresh: new Set(), selection: null };

  const bodyEl = el("div", { class: "body", id: "article-body", lang: "en" });
  const listEl = el("ol", { class: "fact-list", "aria-label": "Facts in reading order" });
  const cardEl = el("div", { class: "card-slot" }, el("p", { class: "muted" }, "Choose a highlighted passage or a fact to see its card."));
  const liveEl = el("span", { class: "live", dataset: { live: "off" } }, "connecting…");
  const bannerEl = el("p", { class: "as-of-banner", role: "status", hidden: true });
  const asOfInput = el("input", { type: "datetime-local", step: "1", id: "as-of", name: "asOf" });
  const selectionBar = el("div", { class: "selection-bar", role: "region", "aria-label": "Selection", hidden: true });
  const headEl = el("header", { class: "article-head" });
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
        if (asOfInput.value) showAsOf(new Date(asOfInput.value).toISOString());
      },
    },
    el("label", { for: "as-of" }, "As of"),
    asOfInput,
    el("button", { type: "submit" }, "Show"),
    el("button", { type: "button", class: "secondary", onclick: () => showAsOf(null) }, "Now"),
  );

  main.replaceChildren(
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "← Articles")),
    headEl,
    el("div", { class: "toolbar" }, asOfForm, suggester.button(), liveEl),
    el(
      "p",
      { class: "legend", "aria-hidden": "true" },
      ["claim", "asset", "incident", "deployment"].map((k) => el("span", { class: `sample ${k}` }, KIND_LABEL[k].toLowerCase())),
    ),
    bannerEl,
    el(
      "div",
      { class: "reader" },
      el("section", { class: "body-pane", "aria-label": "Article text" }, bodyEl),
      el("aside", { class: "facts-pane", "aria-label": "Facts" }, suggester.panel(), cardEl, el("h2", {}, "Facts in reading order"), listEl),
    ),
    selectionBar,
  );

  const data = () => (s.asOf ? s.past : s.now);
  const items = () => itemsOf(s.id, data());
  const byId = (id) => items().find((it) => it.id === id);

  function render() {
    const d = data();
    const list = items();
    renderBody(bodyEl, d.article.body, [...spansOf(list), ...(s.asOf ? [] : suggester.spans())], (span, part) => {
      if (span.suggestion) return suggester.mark(span, part);
      const { item } = span;
      const cls = ["fact", item.kind];
      if (retracted(item)) cls.push("is-retracted");
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
              class: `fact-item ${item.kind}${retracted(item) ? " is-retracted" : ""}${s.fresh.has(item.id) && !s.asOf ? " is-fresh" : ""}`,
              dataset: { factId: item.id },
              "aria-pressed": String(item.id === s.selected),
              onclick: () => select(item.id, { reveal: true }),
            },
            el("span", { class: `kind ${item.kind}` }, KIND_LABEL[item.kind]),
            retracted(item) ? el("span", { class: "badge retracted" }, "retracted") : null,
            corrected(item) ? el("span", { class: "badge corrected" }, "corrected") : null,
            el("span", { class: "summary" }, summary(item)),
          ),
        ),
      ),
    );
    const item = s.selected && byId(s.selected);
    cardEl.replaceChildren(
      item
        ? renderCard(item, { has: (fid) => Boolean(byId(fid)), select: (fid) => select(fid, { reveal: true }), reveal, showAsOf, close })
        : el("p", { class: "muted" }, s.selected ? "This fact is not in the article at this time." : "Choose a highlighted passage or a fact to see its card."),
    );
    bannerEl.hidden = !s.asOf;
    bannerEl.textContent = s.asOf ? `Showing the article and its facts as they stood at ${when(s.asOf)}; later changes are hidden.` : "";
  }

  function renderHead() {
    const a = s.now.article;
    const outlets = [a.outlet, ...a.basedOn].filter(Boolean);
    fill(
      headEl,
      el("h1", {}, a.headline),
      el(
        "p",
        { class: "meta" },
        a.publishedAt ? el("time", { datetime: a.publishedAt }, new Date(a.publishedAt).toLocaleDateString(undefined, { dateStyle: "long" })) : null,
        a.authors.length ? [" · by ", a.authors.flatMap((x, i) => [i ? ", " : "", el("a", { href: `#/actor/${x.id}` }, x.name)])] : null,
        outlets.length ? [" · from ", outlets.flatMap((x, i) => [i ? ", " : "", el("a", { href: `#/actor/${x.id}` }, x.name)])] : null,
      ),
      a.subjects.length ? el("p", { class: "subjects" }, a.subjects.map((code) => el("a", { class: "tag", href: `#/?subject=${encodeURIComponent(code)}`, title: code }, TOPICS[code] ?? code))) : null,
    );
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
  document.addEventListener("keydown", onKey);
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
        article: past.article ?? { ...s.now.article, body: "" },
        claims: of("clm"),
        deployments: of("dep"),
        incidents: of("inc"),
      };
    } else {
      asOfInput.value = "";
    }
    render();
  }

  async function onEvent(ev) {
    if (!s.now) return; // the first load is under way and will include it
    if (ev.objectType === "article") {
      if (ev.objectId !== s.id) return;
      await load();
      renderHead();
      render();
      notify(`Article ${VERB[ev.type.split(".")[1]]}.`);
      return;
    }
    const known = () => s.now[`${ev.objectType}s`]?.some((f) => f.id === ev.objectId);
    if (!KINDS.includes(ev.objectType) || (!known() && !citesArticle(ev.data, s.id))) return;
    const fact = await fetchFact(ev.objectType, ev.objectId);
    if (!fact) return;
    upsert(ev.objectType, fact);
    const ids = [fact.id, ...(fact.assets ?? []).map((a) => a.id)];
    ids.forEach((x) => s.fresh.add(x));
    setTimeout(() => {
      ids.forEach((x) => s.fresh.delete(x));
      if (!s.asOf) render();
    }, 4000);
    const label = KIND_LABEL[ev.objectType];
    const what = fact.statement ?? fact.description ?? fact.region?.name ?? fact.id;
    notify(`${label} ${VERB[ev.type.split(".")[1]]}: ${what}${s.asOf ? " (you are viewing an earlier time: choose Now to see it)" : ""}`);
    if (!s.asOf) render();
  }

  function onSelection() {
    if (s.asOf || !s.now) return;
    const sel = selectionOffsets(bodyEl);
    if (!sel) {
      if (!selectionBar.contains(document.activeElement)) selectionBar.hidden = true;
      return;
    }
    s.selection = sel;
    const preview = sel.text.length > 60 ? `${sel.text.slice(0, 57)}…` : sel.text;
    selectionBar.replaceChildren(
      el("span", { class: "preview" }, `“${preview}”`, el("span", { class: "muted" }, ` (code points ${sel.start}–${sel.end})`)),
      hasKey()
        ? el(
            "button",
            {
              type: "button",
              id: "new-claim",
              // Keep the text selected while the button is pressed.
              onmousedown: (e) => e.preventDefault(),
              onclick: () => openClaimForm({ article: s.now.article, actors: actorsOf(s.now), selection: s.selection, onCreated }),
            },
            "New claim from this selection",
          )
        : el("span", { class: "muted" }, "Enter a write key (top of the page) to make a claim from it."),
    );
    selectionBar.hidden = false;
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
  document.addEventListener("selectionchange", onSelectionChange);

  await load();
  renderHead();
  render();
  if (s.selected) reveal(s.selected);

  const stop = follow({
    types: TYPES,
    headers: authHeaders,
    onEvent: (ev) => onEvent(ev).catch((err) => notify(`Could not apply a live change: ${err.message}`)),
    onState: async (state) => {
      // Without a cursor the stream starts at "now": whatever committed between the first read
      // and this (re)connection is not replayed, so read the article again once subscribed.
      if (state === "live") {
        await load();
        if (!s.asOf) render();
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
