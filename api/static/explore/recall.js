// Recalled content as the API gives it, said plainly. A withheld or canceled article reaches
// read-scope and anonymous callers as a stub (headline, summary, body, url, publishedAt null;
// authors, basedOn, subjects empty); write keys read it in full. A claim, deployment or incident
// whose every cited article is withdrawn (withheld, canceled, retracted) is absent for the former
// (404 by id) and has sourcing WITHDRAWN for write keys; PARTLY_WITHDRAWN when some are. The former
// get no reference into a withheld or canceled article: a partly withdrawn fact lists only the others.

import { el, when } from "./dom.js";

const STATUS = {
  WITHHELD: {
    label: "withheld",
    title: "Withheld article",
    what: "Its publisher has withheld this article until further notice (a legal hold, for instance).",
  },
  CANCELED: {
    label: "canceled",
    title: "Canceled article",
    what: "Its publisher has canceled this article: it is not to be used.",
  },
};

/** Whether the article is withheld or canceled (whoever reads it). */
export const isRecalled = (article) => Boolean(article && STATUS[article.pubStatus]);

/** Whether the caller got the stub: a recalled article with its words taken out. (A headline is
 *  required on every article, so null means the lens removed it.) */
export const isStub = (article) => isRecalled(article) && article.headline == null;

/** The article's title: its headline, or what a stub is. */
export const headlineOf = (article) =>
  article.headline ?? STATUS[article.pubStatus]?.title ?? `Article ${article.id}`;

/** A small badge naming the article's recall or retraction, or null. */
export function articleBadge(article) {
  if (isRecalled(article)) return el("span", { class: `badge ${STATUS[article.pubStatus].label}` }, STATUS[article.pubStatus].label);
  if (article.retractedAt) return el("span", { class: "badge retracted" }, "retracted");
  return null;
}

const note = (kind, ...paragraphs) => el("div", { class: "recall-notice", role: "note", dataset: { recall: kind } }, paragraphs);

/** The note at the top of a recalled or retracted article: what happened and what it means here. */
export function articleNotice(article) {
  const status = STATUS[article.pubStatus];
  if (status) {
    const what = el("p", {}, el("strong", {}, `This article is ${status.label}. `), status.what);
    return isStub(article)
      ? note(
          status.label,
          what,
          el(
            "p",
            {},
            "Its headline, text, authors, subjects and links are not shown, and facts drawn only from it are not listed. ",
            "Facts that other articles support too are still listed below, without their passages here.",
          ),
        )
      : note(
          status.label,
          what,
          el(
            "p",
            {},
            "You see it in full because your key can write. Read-scope keys and anonymous readers get only a stub ",
            "(no headline, text, authors or subjects), and the facts drawn only from it, marked withdrawn, are hidden from them.",
          ),
        );
  }
  if (article.retractedAt) {
    return note(
      "retracted",
      el("p", {}, el("strong", {}, "This article was retracted"), ` on ${when(article.retractedAt)}. `, "Facts drawn only from it are withdrawn: marked so for write keys, hidden from other readers."),
    );
  }
  return null;
}

const SOURCING = {
  WITHDRAWN: {
    label: "withdrawn",
    title: "Every article it cites is withheld, canceled or retracted: read-scope keys and anonymous readers do not see it.",
  },
  PARTLY_WITHDRAWN: {
    label: "partly withdrawn",
    title: "Some of the articles it cites are withheld, canceled or retracted.",
  },
};

/** The fact's sourcing as a badge (withdrawn, partly withdrawn), or null when all its sources stand. */
export function sourcingBadge(fact) {
  const s = SOURCING[fact?.sourcing];
  return s ? el("span", { class: `badge sourcing ${fact.sourcing.toLowerCase().replace("_", "-")}`, title: s.title }, s.label) : null;
}

/** The badge's meaning in words, for a card. */
export function sourcingNote(fact) {
  const s = SOURCING[fact?.sourcing];
  return s ? el("p", { class: "sourcing-note" }, s.title) : null;
}

export const isWithdrawn = (fact) => fact?.sourcing === "WITHDRAWN";

/** What a reference into another article is called: its headline, or what its stub is. */
export const citedArticleName = (article) =>
  article.headline ?? (STATUS[article.pubStatus] ? `a ${STATUS[article.pubStatus].label} article (its text is not shown)` : article.id);
