// Small DOM helpers: build elements without innerHTML (no escaping mistakes).

// h("td", {class: "x", onclick: f}, "text", child, [more]) → element
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, d.toLocaleString());
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

export function keyText(key) {
  const parts = Object.entries(key || {}).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(", ") : "—";
}

export function field(label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

export function errorBox(error) {
  const box = h("div", { class: "error", role: "alert" }, error.message);
  const errors = error.problem?.errors || [];
  if (errors.length) {
    box.append(h("ul", {}, errors.map((e) =>
      h("li", {}, e.line ? `${e.file || ""}:${e.line}:${e.column} ${e.code || ""} ${e.message}` : `${e.path ?? ""} ${e.message}`))));
  }
  return box;
}

// Every few seconds while the page shows: fn(); returns stop().
export function every(ms, fn) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try { await fn(); } catch (e) { console.warn(e); }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => { stopped = true; clearTimeout(timer); };
}

export const POLL_MS = 3000;

export function announce(text) {
  document.getElementById("live").textContent = text;
}
