// The article list: full-text search (articles(filter: {query})) with outlet, subject and date
// filters, kept in the URL (#/?q=…&outlet=…) so a search can be linked and Back works. It lists
// through `articles`, not the ranked `search` connection, because `search` takes no outlet, subject
// or date filters: results are newest first and the snippet is cut from the body here, around the
// first search word found (TODO #13: per-kind filters on search, then relevance and its snippets here).

import { gql } from "./api.js";
import { el, when } from "./dom.js";
import { TOPICS } from "./topics.js";
import { articleBadge, headlineOf, isStub } from "./recall.js";

const PAGE = 20;

const QUERY = `query Articles($filter: ArticleFilter, $after: String) {
  articles(filter: $filter, first: ${PAGE}, after: $after, orderBy: {field: PUBLISHED_AT, direction: DESC}) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id pubStatus retractedAt headline summary body publishedAt subjects outlet { id name } basedOn { id name } } }
  outlets: actors(filter: {kind: MEDIA_OUTLET}, first: 100) { nodes { id name } } }`;

/** Up to ~200 characters of body around the first search word, with the words marked. */
function snippet(body, q) {
  if (!body) return [];
  const terms = (q.match(/[\p{L}\p{N}]{2,}/gu) ?? []).filter((t) => t.toLowerCase() !== "or");
  if (!terms.length) return [body.slice(0, 200) + (body.length > 200 ? "…" : "")];
  const pattern = new RegExp(`(${terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`, "giu");
  const at = body.search(pattern);
  const start = Math.max(0, at - 80);
  const text = (start ? "…" : "") + body.slice(start, start + 200) + (start + 200 < body.length ? "…" : "");
  return text.split(pattern).map((part, i) => (i % 2 ? el("mark", { class: "hit" }, part) : part));
}

export async function showList(main, params) {
  const q = params.get("q") ?? "";
  const filter = {
    query: q || null,
    actor: params.get("outlet") || null, // "actor": the publishing outlet or one whose reporting it relays
    subject: params.get("subject") || null,
    publishedFrom: params.get("from") ? `${params.get("from")}T00:00:00Z` : null,
    publishedTo: params.get("to") ? `${params.get("to")}T23:59:59Z` : null,
  };
  const input = (name, label, attrs = {}) =>
    el("label", {}, label, el("input", { name, value: params.get(name) ?? "", ...attrs }));
  const outletSelect = el("select", { name: "outlet" }, el("option", { value: "" }, "any outlet"));
  const form = el(
    "form",
    {
      class: "filters",
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        const next = new URLSearchParams();
        for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
        location.hash = `#/?${next}`;
      },
    },
    input("q", "Search", { type: "search", placeholder: "words, \"a phrase\", -exclude", class: "q" }),
    el("label", {}, "Outlet", outletSelect),
    input("subject", "Subject", { list: "topics", placeholder: "medtop:…" }),
    el("datalist", { id: "topics" }, Object.entries(TOPICS).map(([code, label]) => el("option", { value: code }, label))),
    input("from", "Published from", { type: "date" }),
    input("to", "to", { type: "date" }),
    el("button", { type: "submit" }, "Search"),
  );
  const results = el("ol", { class: "results", "aria-live": "polite" });
  const more = el("div", { class: "more" });
  main.replaceChildren(el("h1", {}, "Articles"), form, results, more);

  async function page(after) {
    const data = await gql(QUERY, { filter, after });
    if (!after) {
      for (const o of data.outlets.nodes) outletSelect.append(el("option", { value: o.id, selected: o.id === filter.actor }, o.name));
      results.before(el("p", { class: "muted count" }, `${data.articles.totalCount} article${data.articles.totalCount === 1 ? "" : "s"}`));
    }
    for (const a of data.articles.nodes) {
      const from = [a.outlet, ...a.basedOn].filter(Boolean).map((o) => o.name).join(", ");
      const meta = [when(a.publishedAt), from, a.subjects.map((s) => TOPICS[s] ?? s).join(", ")].filter(Boolean).join(" · ");
      const stub = isStub(a);
      results.append(
        el(
          "li",
          { class: stub ? "stub" : null, dataset: { articleId: a.id } },
          el("h2", {}, el("a", { href: `#/article/${a.id}` }, headlineOf(a)), stub ? null : [" ", articleBadge(a)]),
          meta ? el("p", { class: "meta" }, meta) : null,
          stub
            ? el("p", { class: "snippet muted" }, `Its publisher has ${a.pubStatus.toLowerCase()} it: its headline and text are not shown.`)
            : el("p", { class: "snippet" }, q ? snippet(a.body, q) : a.summary ?? snippet(a.body, "")),
        ),
      );
    }
    more.replaceChildren(
      data.articles.pageInfo.hasNextPage
        ? el("button", { type: "button", class: "secondary", onclick: () => page(data.articles.pageInfo.endCursor) }, "More articles")
        : "",
    );
  }
  await page(null);
}
