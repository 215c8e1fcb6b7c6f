// An article's head: its headline (or what its stub is), the byline with only what the article has,
// the note on a recall or retraction, and its subjects.

import { el, fill } from "./dom.js";
import { articleBadge, articleNotice, headlineOf, isStub } from "./recall.js";
import { TOPICS } from "./topics.js";

const links = (actors) => actors.flatMap((x, i) => [i ? ", " : "", el("a", { href: `#/actor/${x.id}` }, x.name)]);

export function renderArticleHead(headEl, a) {
  const outlets = [a.outlet, ...a.basedOn].filter(Boolean);
  // Only what the article has, joined by " · " (a stub or a bare article has little or none of it).
  const meta = [
    a.publishedAt ? el("time", { datetime: a.publishedAt }, new Date(a.publishedAt).toLocaleDateString(undefined, { dateStyle: "long" })) : null,
    a.authors.length ? ["by ", links(a.authors)] : null,
    outlets.length ? ["from ", links(outlets)] : null,
  ].filter(Boolean);
  const badge = isStub(a) ? null : articleBadge(a);
  fill(
    headEl,
    el("h1", { class: isStub(a) ? "stub-title" : null }, headlineOf(a)),
    badge || meta.length ? el("p", { class: "meta" }, badge ? [badge, " "] : null, meta.flatMap((part, i) => [i ? " · " : "", part])) : null,
    articleNotice(a),
    a.subjects.length
      ? el("p", { class: "subjects" }, a.subjects.map((code) => el("a", { class: "tag", href: `#/?subject=${encodeURIComponent(code)}`, title: code }, TOPICS[code] ?? code)))
      : null,
  );
}
