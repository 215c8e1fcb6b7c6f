// "New claim" from a selection: a dialog whose reference is the selected span (offsets in code
// points), sent as createClaim(input:) and showing each of the API's userErrors beside its field.

import { ApiError, createClaim } from "./api.js";
import { el } from "./dom.js";

const UNNAMED = "__unnamed";
const QUOTE_TYPES = ["direct", "indirect", "assertion", "analysis"];
const STATUSES = ["reported", "corroborated", "disputed", "denied"];

function field(name, label, control, hint) {
  control.id = `claim-${name}`;
  control.name = name;
  control.setAttribute("aria-describedby", `claim-${name}-error`);
  return el(
    "div",
    { class: "field", dataset: { path: name } },
    el("label", { for: control.id }, label),
    hint ? el("p", { class: "hint" }, hint) : null,
    control,
    el("p", { class: "field-error", id: `claim-${name}-error`, "aria-live": "polite" }),
  );
}

const options = (values, selected) => values.map(([value, label]) => el("option", { value, selected: value === selected }, label));

/** Opens the dialog for `selection` ({start, end, text}) in `article`, or on a suggested claim's
 *  `draft` (createClaim's input); onCreated(claim) on success. */
export function openClaimForm({ article, actors, selection, onCreated, draft = null }) {
  if (draft) selection = draftSelection(draft);
  const speaker = el("select", {}, options([["", "— choose —"], ...actors.map((a) => [a.id, a.name]), [UNNAMED, "Unnamed source…"]], ""));
  const description = el("input", { type: "text", placeholder: "e.g. a person who speaks to officials in both countries" });
  const descriptionField = field("speakerDescription", "Describe the unnamed source", description);
  descriptionField.hidden = true;
  speaker.addEventListener("change", () => {
    descriptionField.hidden = speaker.value !== UNNAMED;
  });
  const quoteType = el("select", {}, options(QUOTE_TYPES.map((q) => [q, q]), "direct"));
  const quote = el("textarea", { rows: "2" });
  quote.value = selection.text;
  const statement = el("textarea", { rows: "3" });
  statement.value = selection.text;
  const status = el("select", {}, options(STATUSES.map((x) => [x, x]), "reported"));
  const reportedBy = el("select", {}, options([["", "—"], ...actors.map((a) => [a.id, a.name])], (article.basedOn[0] ?? article.outlet)?.id ?? ""));

  const reference = el(
    "div",
    { class: "field", dataset: { path: "references" } },
    el("p", { class: "label" }, "Reference"),
    el("blockquote", { class: "quote" }, selection.text),
    el("p", { class: "hint" }, `Characters ${selection.start}–${selection.end} of the body, counted in code points.`),
    el("p", { class: "field-error", id: "claim-references-error", "aria-live": "polite" }),
  );
  const formErrors = el("div", { class: "form-errors", role: "alert" });
  const submit = el("button", { type: "submit" }, "Create claim");
  const form = el(
    "form",
    { class: "claim-form", novalidate: true },
    el("h2", {}, "New claim"),
    reference,
    field("statement", "Statement", statement, "The claim in your words."),
    field("quote", "Quote", quote, "Verbatim, for a direct quote."),
    field("quoteType", "Quote type", quoteType),
    field("speaker", "Speaker", speaker),
    descriptionField,
    field("reportedBy", "Reported by", reportedBy),
    field("status", "Status", status),
    formErrors,
    el("div", { class: "actions" }, submit, el("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel")),
  );
  const dialog = el("dialog", { class: "claim-dialog", "aria-label": "New claim" }, form);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
    for (const f of form.querySelectorAll(".field")) f.classList.remove("has-error");
    formErrors.replaceChildren();
    const unnamed = speaker.value === UNNAMED;
    const input = {
      statement: statement.value.trim(),
      quote: quote.value.trim() || null,
      quoteType: quoteType.value,
      speaker: unnamed || !speaker.value ? null : speaker.value,
      speakerDescription: unnamed ? description.value.trim() || null : null,
      reportedBy: reportedBy.value || null,
      status: status.value,
      references: selection.refs ?? [{ article: article.id, charStart: selection.start, charEnd: selection.end, quoteText: selection.text }],
    };
    submit.disabled = true;
    try {
      const result = await createClaim(input);
      if (result.claim) {
        dialog.close();
        onCreated(result.claim);
        return;
      }
      // No claim and no userErrors is outside the contract's intent, but must not look like nothing happened.
      showErrors(form, formErrors, result.userErrors.length ? result.userErrors : [{ path: [], message: "The claim was not created." }]);
    } catch (err) {
      const errors = err instanceof ApiError ? err.errors : [{ message: err.message }];
      formErrors.replaceChildren(...errors.map((x) => el("p", {}, x.message)));
    } finally {
      submit.disabled = false;
    }
  });
  if (draft) {
    statement.value = draft.statement;
    quote.value = draft.quote ?? "";
    quoteType.value = draft.quoteType;
    if (draft.speaker && !speaker.querySelector(`option[value="${CSS.escape(draft.speaker)}"]`)) {
      speaker.append(el("option", { value: draft.speaker }, "the suggested speaker"));
    }
    speaker.value = draft.speaker ?? (draft.speakerDescription ? UNNAMED : "");
    description.value = draft.speakerDescription ?? "";
    descriptionField.hidden = speaker.value !== UNNAMED;
  }
  dialog.showModal();
  statement.focus();
}

/** A suggested claim's references as the form's one span (several parts: from the first to the last). */
function draftSelection(draft) {
  const refs = draft.references;
  return { start: refs[0].charStart, end: refs.at(-1).charEnd, text: refs.map((r) => r.quoteText).join(" … "), refs };
}

/** Each userError beside the field its path names ([input, statement] → statement); the rest above the buttons. */
function showErrors(form, formErrors, userErrors) {
  let first = null;
  for (const error of userErrors) {
    const path = error.path[0] === "input" ? error.path.slice(1) : error.path;
    const target = path.length ? form.querySelector(`.field[data-path="${CSS.escape(path[0])}"]`) : null;
    if (target && !target.hidden) {
      target.classList.add("has-error");
      const p = target.querySelector(".field-error");
      p.textContent = [p.textContent, error.message].filter(Boolean).join(" ");
      first ??= target.querySelector("input, select, textarea");
    } else {
      formErrors.append(el("p", {}, `${path.join("/") || "claim"}: ${error.message}`));
    }
  }
  (first ?? form.querySelector("button[type=submit]")).focus();
}
