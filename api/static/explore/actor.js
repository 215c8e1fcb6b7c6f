// An actor's page: who they are, their roles, the claims they made and those about them, their
// deployments and the incidents they took part in, each linked to the article it comes from.

import { gql } from "./api.js";
import { el, fill, words } from "./dom.js";
import { sourcingBadge } from "./recall.js";

const QUERY = `query Actor($id: ID!) { actor(id: $id) {
  id name kind aliases description country wikidataId
  roles { title since until organization { ...Who } }
  claimsAsSpeaker(first: 50) { totalCount nodes { ...Line } }
  claimsAsSubject(first: 50) { totalCount nodes { ...Line } }
  deployments(first: 50) { totalCount nodes { id sourcing status region { name } references { article { id headline } } } }
  incidents(first: 50) { totalCount nodes { id sourcing incidentType description references { article { id headline } } } } } }
  fragment Line on Claim { id sourcing statement status speaker { ...Who } speakerDescription references { article { id headline } } }`;

/** A link to an article citing a fact, opening it on that fact: the first one whose text the reader
 *  can see (a stub's headline is null), else the first; and the fact's sourcing badge. */
const inArticle = (fact, text) => {
  const articles = (fact.references ?? []).map((r) => r.article).filter(Boolean);
  const article = articles.find((a) => a.headline != null) ?? articles[0];
  const badge = sourcingBadge(fact);
  return [article ? el("a", { href: `#/article/${article.id}?fact=${fact.id}` }, text) : text, badge ? [" ", badge] : null];
};

function section(title, connection, line) {
  return el(
    "section",
    { class: "actor-section" },
    el("h2", {}, `${title} (${connection.totalCount})`),
    connection.nodes.length ? el("ul", {}, connection.nodes.map((n) => el("li", {}, line(n)))) : el("p", { class: "muted" }, "None."),
  );
}

export async function showActor(main, id) {
  const frame = el("div", { class: "actor-page" }, el("p", { class: "muted" }, "Loading…"));
  main.replaceChildren(frame);
  const { actor: a } = await gql(QUERY, { id });
  if (!a) throw new Error(`no actor ${id}`);
  const who = (c) => (c.speaker ? c.speaker.name : c.speakerDescription ? `unnamed: ${c.speakerDescription}` : "no speaker given");
  fill(
    frame,
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "← Articles")),
    el("h1", {}, a.name),
    el("p", { class: "meta" }, [words(a.kind), a.country, a.aliases.length ? `also ${a.aliases.join(", ")}` : ""].filter(Boolean).join(" · ")),
    a.description ? el("p", {}, a.description) : null,
    a.roles.length
      ? el(
          "section",
          { class: "actor-section" },
          el("h2", {}, "Roles"),
          el(
            "ul",
            {},
            a.roles.map((r) =>
              el("li", {}, r.title, r.organization ? [", ", el("a", { href: `#/actor/${r.organization.id}` }, r.organization.name)] : null,
                r.since || r.until ? ` (${r.since ?? "…"} – ${r.until ?? "…"})` : ""),
            ),
          ),
        )
      : null,
    section("Claims made", a.claimsAsSpeaker, (c) => [inArticle(c, c.statement), el("span", { class: "muted" }, ` · ${words(c.status)}`)]),
    section("Claims about them", a.claimsAsSubject, (c) => [inArticle(c, c.statement), el("span", { class: "muted" }, ` · ${who(c)}`)]),
    section("Deployments", a.deployments, (d) => inArticle(d, `${d.region?.name ?? "Deployment"} (${words(d.status)})`)),
    section("Incidents", a.incidents, (i) => inArticle(i, i.description || words(i.incidentType))),
  );
}
