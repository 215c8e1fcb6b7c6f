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

  function operation(spec, path, method, op) {
    const params = (op.parameters || []).map((p) => resolve(spec, p));
    const inputs = {};
    const rows = params.map((p) => {
      const input = el("input", { placeholder: p.name, "aria-label": p.name });
      inputs[p.name] = [p, input];
      return el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? " *" : ""), el("td", {}, p.in),
        el("td", {}, typeOf(spec, p.schema)), el("td", {}, p.description || ""),
        el("td", {}, method === "get" ? input : ""));
    });
    const responses = Object.entries(op.responses || {}).map(([status, r]) => {
      r = resolve(spec, r);
      return el("tr", {}, el("td", {}, el("code", {}, status)), el("td", {}, r.description || ""));
    });
    const output = el("pre", { hidden: "" });
    const section = el("section", { class: "op", id: anchor(method, path) },
      el("h2", {}, el("span", { class: "method " + method }, method.toUpperCase()), " ", el("code", {}, path)),
      el("p", {}, op.summary || ""), el("p", { class: "muted" }, op.description || ""));
    if (rows.length) section.append(el("h4", {}, "Parameters"), el("table", {}, ...rows));
    section.append(el("h4", {}, "Responses"), el("table", {}, ...responses));
    if (method === "get") {
      const button = el("button", {}, "Try it");
      button.addEventListener("click", async () => {
        let url = path;
        const query = new URLSearchParams();
        for (const [name, [p, input]] of Object.entries(inputs)) {
          if (!input.value) continue;
          if (p.in === "path") url = url.replace("{" + name + "}", encodeURIComponent(input.value));
          else if (p.in === "query") query.set(name, input.value);
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
      section.append(button, output);
    }
    return section;
  }

  function render(spec) {
    const nav = el("nav", {}, el("strong", {}, spec.info.title + " " + spec.info.version),
      el("p", {}, el("input", { id: "api-key", placeholder: "API key (optional)" })));
    const main = el("main", {}, el("h1", {}, spec.info.title), el("pre", {}, spec.info.description || ""));
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
  }

  fetch(root.dataset.spec).then((r) => r.json()).then(render).catch((e) => {
    root.textContent = "Could not load the API description: " + e;
  });
})();
