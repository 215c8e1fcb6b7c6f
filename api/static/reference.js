// The /docs reference: renders /openapi.json (operations, parameters, responses, schemas) and lets
// a reader try each GET with their API key. Self-contained: no framework, no network but this API.
(function () {
  "use strict";
  const root = document.getElementById("reference");
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
    return node;
  };
  const resolve = (spec, obj) => {
    while (obj && obj.$ref) obj = obj.$ref.split("/").slice(1).reduce((o, k) => o[k], spec);
    return obj;
  };
  const typeOf = (spec, schema) => {
    schema = resolve(spec, schema) || {};
    if (schema.enum) return schema.enum.join(" | ");
    if (schema.type === "array") return typeOf(spec, schema.items) + "[]";
    return [schema.type, schema.format].filter(Boolean).join(" ") || "object";
  };
  const anchor = (method, path) => (method + path).replace(/[^a-zA-Z0-9]+/g, "-");

  // The Markdown the descriptions use, as DOM nodes (never innerHTML: the text stays text):
  // `code`, **strong**, [links](…), paragraphs and "- " lists.
  function inline(text) {
    const out = document.createDocumentFragment();
    const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
    let last = 0;
    for (const m of text.matchAll(pattern)) {
      out.append(text.slice(last, m.index));
      if (m[1] !== undefined) out.append(el("code", {}, m[1]));
      else if (m[2] !== undefined) out.append(el("strong", {}, m[2]));
      else if (/^(https?:\/\/|#|\/)/.test(m[4])) out.append(el("a", { href: m[4] }, m[3]));
      else out.append(m[3]);
      last = m.index + m[0].length;
    }
    out.append(text.slice(last));
    return out;
  }
  function markdown(text, tag) {
    const out = el(tag || "div", { class: "md" });
    for (const block of String(text || "").trim().split(/\n\s*\n/)) {
      const lines = block.split("\n");
      if (lines.every((l) => /^\s*- /.test(l) || /^\s{2,}\S/.test(l))) {
        const list = el("ul");
        for (const line of lines) {
          if (/^\s*- /.test(line)) list.append(el("li", {}, inline(line.replace(/^\s*- /, ""))));
          else list.lastChild.append(" ", inline(line.trim()));
        }
        out.append(list);
      } else if (block.trim()) {
        out.append(el("p", {}, inline(lines.map((l) => l.trim()).join(" "))));
      }
    }
    return out;
  }
  const schemaLink = (schema) =>
    schema && schema.$ref ? el("a", { href: "#schema-" + schema.$ref.split("/").pop() }, schema.$ref.split("/").pop()) : "";

  function responseRows(spec, op) {
    return Object.entries(op.responses || {}).map(([status, r]) => {
      r = resolve(spec, r);
      const bodies = el("td", { class: "media" });
      for (const [media, m] of Object.entries(r.content || {})) bodies.append(el("div", {}, el("code", {}, media), " ", schemaLink(m.schema)));
      for (const [media, m] of Object.entries(r["x-representations"] || {})) {
        bodies.append(el("div", { class: "muted" }, el("code", {}, "format=" + m.format), " ", el("code", {}, media), " ", schemaLink(m.schema)));
      }
      return el("tr", {}, el("td", {}, el("code", {}, status)), el("td", {}, markdown(r.description)), bodies);
    });
  }

  // "Try it": one labelled input per path and query parameter, in a grid of its own (as a table
  // column beside the descriptions the inputs were squeezed to a few pixels).
  function tryIt(spec, path, params) {
    const form = el("form", { class: "try" });
    const fields = el("div", { class: "fields" });
    const inputs = [];
    for (const p of params.filter((p) => p.in === "path" || p.in === "query")) {
      const schema = resolve(spec, p.schema) || {};
      let input;
      if (schema.enum) {
        input = el("select", { name: p.name }, el("option", { value: "" }, ""), ...schema.enum.map((v) => el("option", { value: v }, v)));
      } else {
        input = el("input", { name: p.name, placeholder: typeOf(spec, p.schema) });
      }
      inputs.push([p, input]);
      fields.append(el("label", {}, el("span", {}, el("code", {}, p.name), p.required ? " *" : ""), input));
    }
    const output = el("pre", { hidden: "" });
    form.append(fields, el("button", { type: "submit" }, "Try it"), output);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let url = path;
      const query = new URLSearchParams();
      for (const [p, input] of inputs) {
        if (!input.value) continue;
        if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(input.value));
        else query.set(p.name, input.value);
      }
      const headers = {};
      const key = document.getElementById("api-key").value;
      if (key) headers.Authorization = "Bearer " + key;
      const res = await fetch(url + (query.toString() ? "?" + query : ""), { headers });
      const text = await res.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* NDJSON or text */ }
      const head = [...res.headers].map(([k, v]) => k + ": " + v).join("\n");
      output.textContent = res.status + " " + res.statusText + "\n" + head + "\n\n" + shown;
      output.hidden = false;
    });
    return form;
  }

  function operation(spec, path, method, op) {
    const params = (op.parameters || []).map((p) => resolve(spec, p));
    const rows = params.map((p) =>
      el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? " *" : ""), el("td", {}, p.in),
        el("td", { class: "type" }, typeOf(spec, p.schema)), el("td", {}, markdown(p.description))));
    const section = el("section", { class: "op", id: anchor(method, path) },
      el("h2", {}, el("span", { class: "method " + method }, method.toUpperCase()), " ", el("code", {}, path)),
      el("p", {}, inline(op.summary || "")), markdown(op.description, "div"));
    if (rows.length) section.append(el("h4", {}, "Parameters"), el("table", { class: "params" }, ...rows));
    section.append(el("h4", {}, "Responses"), el("table", { class: "responses" }, ...responseRows(spec, op)));
    if (method === "get") section.append(tryIt(spec, path, params));
    return section;
  }

  function render(spec) {
    const nav = el("nav", {}, el("strong", {}, spec.info.title + " " + spec.info.version),
      el("p", {}, el("input", { id: "api-key", placeholder: "API key (optional)", "aria-label": "API key" })));
    const main = el("main", {}, el("h1", {}, spec.info.title), markdown(spec.info.description));
    const byTag = {};
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!["get", "post", "patch", "put", "delete"].includes(method)) continue;
        const tag = (op.tags || ["other"])[0];
        (byTag[tag] = byTag[tag] || []).push([path, method, op]);
      }
    }
    for (const [tag, ops] of Object.entries(byTag)) {
      nav.append(el("h3", {}, tag));
      main.append(el("h2", {}, tag));
      for (const [path, method, op] of ops) {
        nav.append(el("a", { href: "#" + anchor(method, path) }, method.toUpperCase() + " " + path));
        main.append(operation(spec, path, method, op));
      }
    }
    main.append(el("h2", {}, "Schemas"));
    for (const [name, schema] of Object.entries((spec.components || {}).schemas || {})) {
      main.append(el("h3", { id: "schema-" + name }, name), el("pre", {}, JSON.stringify(schema, null, 2)));
    }
    root.replaceChildren(nav, main);
    if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
  }

  fetch(root.dataset.spec).then((r) => r.json()).then(render).catch((e) => {
    root.textContent = "Could not load the API description: " + e;
  });
})();
