// Rule editor: a textarea over two layers (highlighted text, diagnostic marks), lint
// while typing (debounced), save through PUT /v1/rules/{name}, and the rendered
// notification preview of a monitor (POST /v1/test with "render": true).
import { api } from "/console/api.js";
import { errorBox, field, h, json } from "/console/dom.js";
import { highlight } from "/console/highlight.js";

const LINT_DELAY_MS = 300;
const NAME = /^[A-Za-z0-9_.-]+\.rules$/;

// 1-based line/column (language.md § Diagnostics) → offset into `text`.
export function offsetOf(text, line, column) {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf("\n", offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  return Math.min(offset + Math.max(column - 1, 0), text.length);
}

function diagnosticLayer(text, diagnostics) {
  // The text itself, transparent, with each diagnostic's span wrapped in a <mark>.
  const ranges = diagnostics.map((d) => {
    const start = offsetOf(text, d.line, d.column);
    let end = d.end_line ? offsetOf(text, d.end_line, d.end_column) : start + 1;
    if (end <= start) end = start + 1;
    return { d, start, end: Math.min(end, Math.max(text.length, start + 1)) };
  }).sort((a, b) => a.start - b.start);
  const fragment = document.createDocumentFragment();
  let at = 0;
  for (const { d, start, end } of ranges) {
    if (start < at) continue; // overlapping: the first one is shown in the text
    fragment.append(text.slice(at, start));
    // A span over several lines is marked on its first line (the layers must keep the text's shape).
    let covered = text.slice(start, end);
    if (covered.includes("\n")) covered = covered.slice(0, covered.indexOf("\n"));
    fragment.append(h("mark", { class: `diag diag-${d.severity}`, title: `${d.code} ${d.message}`,
      dataset: { line: d.line, column: d.column, code: d.code } }, covered || " "));
    at = start + covered.length;
  }
  fragment.append(text.slice(at), "\n");
  return fragment;
}

function lineNumbers(text) {
  const count = text.split("\n").length;
  return Array.from({ length: count }, (_, i) => i + 1).join("\n");
}

class Editor {
  constructor(text, onChange) {
    this.gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
    this.hl = h("pre", { class: "layer hl", "aria-hidden": "true" });
    this.marks = h("pre", { class: "layer marks", "aria-hidden": "true" });
    this.area = h("textarea", { class: "layer input", spellcheck: "false", autocapitalize: "off",
      autocomplete: "off", wrap: "off", id: "rule-text", "aria-describedby": "diagnostics" });
    this.area.value = text;
    this.element = h("div", { class: "editor" }, this.gutter, h("div", { class: "layers" }, this.hl, this.marks, this.area));
    this.diagnostics = [];
    this.area.addEventListener("input", () => { this.paint(); onChange(); });
    this.area.addEventListener("scroll", () => this.sync());
    this.paint();
  }

  get text() { return this.area.value; }

  paint() {
    const text = this.text;
    this.hl.replaceChildren(highlight(text), "\n");
    this.marks.replaceChildren(diagnosticLayer(text, this.diagnostics));
    this.gutter.textContent = lineNumbers(text);
    this.sync();
  }

  showDiagnostics(diagnostics) {
    this.diagnostics = diagnostics;
    this.marks.replaceChildren(diagnosticLayer(this.text, diagnostics));
  }

  sync() {
    for (const layer of [this.hl, this.marks]) {
      layer.scrollTop = this.area.scrollTop;
      layer.scrollLeft = this.area.scrollLeft;
    }
    this.gutter.scrollTop = this.area.scrollTop;
  }

  goTo(line, column = 1) {
    const offset = offsetOf(this.text, line, column);
    this.area.focus();
    this.area.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(this.area).lineHeight) || 20;
    this.area.scrollTop = Math.max(0, (line - 3) * lineHeight);
    this.sync();
  }
}

function diagnosticsList(diagnostics, editor) {
  if (!diagnostics.length) return h("p", { class: "ok" }, "No problems.");
  return h("ul", { class: "diagnostics" }, diagnostics.map((d) => h("li", { class: `diag-${d.severity}` },
    h("button", { type: "button", class: "link", onclick: () => editor.goTo(d.line, d.column) },
      `line ${d.line}, column ${d.column}`),
    ` ${d.severity} ${d.code}: ${d.message}`, d.hint ? h("span", { class: "hint" }, ` — ${d.hint}`) : null)));
}

const key = (d) => `${d.line}:${d.column}:${d.code}`;

async function activeFiles() {
  const rules = await api("/v1/rules");
  const files = {};
  await Promise.all(rules.files.map(async (f) => { files[f.name] = await api(`/v1/rules/${encodeURIComponent(f.name)}`); }));
  return files;
}

function previewSection(name, editor) {
  const monitor = h("select", { name: "monitor" });
  const events = h("textarea", { rows: 6, class: "events", spellcheck: "false" });
  const out = h("div", { class: "preview-out", role: "status" });
  const form = h("form", { class: "preview", "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title" }, "Notification preview"),
    h("p", { class: "help" }, "Runs the edited rules (with the other active files) over these events with nothing sent; ",
      "secrets show as ****; an event without an id gets one."),
    field("Monitor", monitor), field("Events (JSON array)", events),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Render preview")), out);
  let triggers = {};
  monitor.addEventListener("change", () => {
    const type = (triggers[monitor.value] || "").match(/[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+/);
    events.value = JSON.stringify([{ type: type ? type[0] : "execution.failed" }], null, 1);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.replaceChildren("Rendering…");
    try {
      const files = { ...(await activeFiles()), [name]: editor.text };
      const given = JSON.parse(events.value);
      const list = (Array.isArray(given) ? given : [given]).map((ev, i) => ({ id: `preview-${i + 1}`, ...ev }));
      const result = await api("/v1/test", { method: "POST", body: { files, events: list, render: true } });
      const mine = result.alert_events.filter((a) => a.monitor === monitor.value);
      out.replaceChildren(h("div", {}, mine.length ? mine.map((a) => h("article", { class: "notification-set" },
        h("h3", {}, `${a.kind} at ${a.at}`),
        (a.notifications || []).map((n) => h("section", { class: "notification" },
          h("h4", {}, `${n.channel} → ${n.target}`),
          n.url ? h("p", {}, h("code", {}, `${n.method || ""} ${n.url}`)) : null,
          n.subject ? h("p", {}, `Subject: ${n.subject}`) : null,
          n.error ? h("p", { class: "error-text" }, n.error) : null,
          (n.render_warnings || []).map((w) => h("p", { class: "warning-text" }, w)),
          h("details", {}, h("summary", {}, "Headers"), json(n.headers || {})),
          typeof n.body === "string" ? h("pre", { class: "json" }, n.body) : json(n.body)))))
        : h("p", { class: "empty" }, `"${monitor.value}" did not fire on these events.`),
      result.diagnostics?.length ? errorBox({ message: "Diagnostics", problem: { errors: result.diagnostics } }) : null));
    } catch (error) {
      out.replaceChildren(errorBox(error));
    }
  });
  return {
    form,
    setMonitors(monitors) {
      const chosen = monitor.value;
      triggers = Object.fromEntries(monitors.map((m) => [m.name, m.trigger]));
      monitor.replaceChildren(...monitors.map((m) => h("option", { value: m.name, selected: m.name === chosen }, m.name)));
      if (!events.value && monitors.length) monitor.dispatchEvent(new Event("change"));
    },
  };
}

function filesNav(files, current) {
  const input = h("input", { name: "name", placeholder: "new.rules", pattern: NAME.source.slice(1, -1), required: true });
  const form = h("form", { class: "inline", "aria-label": "New rule file" }, field("New file", input),
    h("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#/rules/${encodeURIComponent(input.value)}`; });
  return h("nav", { class: "files", "aria-label": "Rule files" },
    h("h2", {}, "Files"),
    h("ul", {}, files.map((f) => h("li", {}, h("a", { href: `#/rules/${encodeURIComponent(f.name)}`,
      "aria-current": f.name === current ? "page" : null }, f.name, ` (${f.monitors})`)))),
    form);
}

export async function render(main, route) {
  const rules = await api("/v1/rules");
  const name = route.arg || rules.files[0]?.name;
  main.append(h("h1", {}, "Rule editor"));
  const layout = h("div", { class: "editor-page" }, filesNav(rules.files, name));
  main.append(layout);
  if (!name) {
    layout.append(h("p", {}, "No rule files yet: name a new one."));
    return null;
  }
  let text = "";
  try {
    text = await api(`/v1/rules/${encodeURIComponent(name)}`);
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  let timer = null;
  let serial = 0;
  const diagnosticsBox = h("div", { id: "diagnostics", "aria-live": "polite" });
  const status = h("p", { class: "save-status", role: "status" });
  const editor = new Editor(text, () => { status.textContent = "Edited, not saved."; schedule(); });
  const preview = previewSection(name, editor);

  const show = (diagnostics) => {
    const mine = diagnostics.filter((d) => !d.file || d.file === name);
    editor.showDiagnostics(mine);
    diagnosticsBox.replaceChildren(diagnosticsList(mine, editor));
  };
  // Linted with the other active files, so references to their channels and groups resolve.
  const others = await activeFiles();
  delete others[name];
  const check = async () => {
    const mySerial = ++serial;
    const files = { [name]: editor.text };
    const lint = await api("/v1/rules/lint", { method: "POST", body: { files: { ...others, ...files } } });
    if (mySerial !== serial) return;
    if (!lint.ok) { show(lint.diagnostics); return; }
    // Clean on its own: also resolve references against the active set and compile.
    const valid = await api("/v1/rules/validate", { method: "POST", body: { files } });
    if (mySerial !== serial) return;
    const seen = new Set(lint.diagnostics.map(key));
    show([...lint.diagnostics, ...valid.diagnostics.filter((d) => !seen.has(key(d)))]);
    preview.setMonitors(valid.monitors.filter((m) => m.file === name));
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => check().catch((error) => diagnosticsBox.replaceChildren(errorBox(error))), LINT_DELAY_MS);
  };
  const save = async () => {
    status.textContent = "Saving…";
    try {
      const saved = await api(`/v1/rules/${encodeURIComponent(name)}`, { method: "PUT", body: editor.text });
      status.textContent = `Saved: rule set version ${saved.version}.`;
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
      if (error.problem?.errors?.length && error.problem.errors[0].line) show(error.problem.errors);
    }
  };
  editor.area.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(); }
  });

  layout.append(h("section", { class: "edit", "aria-labelledby": "file-title" },
    h("h2", { id: "file-title" }, h("label", { for: "rule-text" }, name)),
    editor.element,
    h("div", { class: "actions" }, h("button", { type: "button", onclick: save, class: "primary" }, "Save"),
      h("span", { class: "help" }, " Ctrl+S saves; Tab leaves the editor.")),
    status,
    h("h3", {}, "Problems"), diagnosticsBox,
    preview.form));
  const line = Number(route.query.get("line"));
  if (line) editor.goTo(line);
  await check().catch((error) => diagnosticsBox.replaceChildren(errorBox(error)));
  return () => clearTimeout(timer);
}
