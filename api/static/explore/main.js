// The explorer's entry point: the API-key control, the quiet notice, and a hash router over three
// views: #/ (articles), #/article/<id>[?fact=<id>] and #/actor/<id>.

import { hasKey, setKey } from "./api.js";
import { showActor } from "./actor.js";
import { showArticle } from "./article.js";
import { el } from "./dom.js";
import { showList } from "./list.js";

const main = document.getElementById("main");
const notice = document.getElementById("notice");
let noticeTimer = null;
let leave = null; // the current view's cleanup (its live stream)
let latest = 0; // the number of the latest route: an earlier one still loading must not win over it

/** A quiet, polite notice of what changed; it fades after a while. */
function notify(text) {
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.hidden = true), 8000);
}

function keyControl() {
  const box = document.getElementById("key");
  const draw = () => {
    if (hasKey()) {
      box.replaceChildren(
        el("span", { class: "muted" }, "API key in use (this tab only) "),
        el("button", { type: "button", class: "secondary", onclick: () => (setKey(null), draw(), route()) }, "Forget"),
      );
      return;
    }
    const input = el("input", { type: "password", id: "key-input", autocomplete: "off", placeholder: "nfk_…", size: "16" });
    box.replaceChildren(
      el(
        "form",
        { onsubmit: (e) => (e.preventDefault(), setKey(input.value), draw(), route()) },
        el("label", { for: "key-input" }, "API key"),
        input,
        el("button", { type: "submit" }, "Use"),
      ),
    );
  };
  draw();
}

async function route(event) {
  // In-page anchors (the skip link's #main) are not views.
  if (event && !location.hash.startsWith("#/") && location.hash !== "") return;
  const mine = ++latest;
  leave?.();
  leave = null;
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const [, view, id] = path.split("/");
  main.setAttribute("aria-busy", "true");
  try {
    // Each view puts its frame in main before its first await and fills that frame later, so a
    // slower, earlier route only fills a detached frame; its live stream is stopped here.
    let stop = null;
    if (view === "article" && id) stop = await showArticle(main, id, { notify, selected: params.get("fact") });
    else if (view === "actor" && id) await showActor(main, id);
    else await showList(main, params);
    if (mine === latest) leave = stop;
    else stop?.();
  } catch (err) {
    if (mine === latest) main.replaceChildren(el("p", { class: "error", role: "alert" }, `Could not load this page: ${err.message}`));
  } finally {
    if (mine === latest) main.removeAttribute("aria-busy");
  }
}

keyControl();
window.addEventListener("hashchange", route);
route();
