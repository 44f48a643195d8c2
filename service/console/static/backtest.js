// Backtest: a saved monitor, or rule text (a saved file, edited here), replayed over the
// stored events of a time range by POST /v1/backtest (nothing stored, nothing sent).
// Shows when each alert would have fired and resolved as bars on a timeline (CSS, each
// bar also described in text), then the alert events with their values and targets.
import { api } from "/console/api.js";
import { announce, badge, errorBox, field, h, keyText, time } from "/console/dom.js";

const DAY_MS = 86_400_000;

function localInput(date) { // a Date as a datetime-local value (the browser's time zone)
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 16);
}

async function monitorNames() {
  const names = [];
  let cursor = null;
  do {
    const page = await api("/v1/monitors", { params: { cursor } });
    names.push(...page.items.map((m) => m.name));
    cursor = page.next_cursor;
  } while (cursor);
  return names;
}

async function activeFiles(names) {
  const files = {};
  for (const name of names) files[name] = await api(`/v1/rules/${encodeURIComponent(name)}`);
  return files;
}

// One bar per alert: from its `fired` (or the range's start) to its `resolved` (or the end).
export function spans(rows, from, to) {
  const open = new Map();
  const out = [];
  for (const r of rows) {
    if (r.kind === "fired") open.set(r.alert_id, { row: r, start: Date.parse(r.at) });
    else if (r.kind === "resolved") {
      const o = open.get(r.alert_id);
      out.push({ row: o ? o.row : r, start: o ? o.start : from, end: Date.parse(r.at), resolved: true });
      open.delete(r.alert_id);
    }
  }
  for (const o of open.values()) out.push({ row: o.row, start: o.start, end: to, resolved: false });
  return out.sort((a, b) => a.start - b.start);
}

function timeline(result) {
  const from = Date.parse(result.from);
  const to = Date.parse(result.to);
  const width = Math.max(to - from, 1);
  const bars = spans(result.alert_events, from, to);
  if (!bars.length) return h("p", { class: "empty" }, "It would not have fired in this range.");
  const pct = (t) => `${(((Math.min(Math.max(t, from), to) - from) / width) * 100).toFixed(3)}%`;
  return h("figure", { class: "timeline" },
    h("figcaption", {}, "When it would have fired (bar start) and resolved (bar end), ",
      time(result.from), " to ", time(result.to)),
    h("ul", {}, bars.map((b) => {
      const label = `${b.row.monitor} ${keyText(b.row.key)}: fired ${new Date(b.start).toISOString()}, ` +
        (b.resolved ? `resolved ${new Date(b.end).toISOString()}` : "still firing at the end of the range");
      const bar = h("span", { class: `timeline-bar ${b.resolved ? "" : "open"} sev-${b.row.severity}`, role: "img",
        "aria-label": label, title: label });
      // Through the CSSOM: the console's CSP (style-src 'self') refuses style attributes.
      bar.style.left = pct(b.start);
      bar.style.width = `max(3px, calc(${pct(b.end)} - ${pct(b.start)}))`;
      return h("li", { class: "timeline-row" },
        h("span", { class: "timeline-label" }, b.row.monitor, " ", h("small", {}, keyText(b.row.key))),
        h("span", { class: "timeline-track" }, bar));
    })));
}

function eventsTable(rows) {
  return h("table", { class: "backtest-events" },
    h("caption", { class: "sr-only" }, "Alert events the backtest made"),
    h("thead", {}, h("tr", {}, ["At", "Kind", "Monitor", "Key", "Severity", "Value", "Threshold", "Would notify"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {},
      h("td", {}, time(r.at)), h("td", {}, badge(r.kind)), h("th", { scope: "row" }, r.monitor),
      h("td", {}, keyText(r.key)), h("td", {}, badge(r.severity)),
      h("td", { class: "num" }, r.value ?? "—"), h("td", { class: "num" }, r.threshold ?? "—"),
      h("td", {}, (r.targets || []).join(", ") || "—")))));
}

function resultView(result) {
  if (!result.ok) {
    return errorBox({ message: "The rules have errors: nothing was replayed.",
      problem: { errors: result.diagnostics } });
  }
  const n = result.total;
  return h("section", { "aria-labelledby": "bt-result" },
    h("h2", { id: "bt-result" }, `${n} alert event${n === 1 ? "" : "s"} from ${result.events} stored events`),
    result.truncated ? h("p", { class: "notice" }, `Showing the first ${result.alert_events.length}; narrow the range.`) : null,
    (result.monitor_errors || []).map((e) => h("p", { class: "error" }, `Monitor ${e.monitor} failed at ${e.at}: ${e.error}`)),
    timeline(result),
    result.alert_events.length ? eventsTable(result.alert_events) : null);
}

export async function render(main) {
  const [monitors, rules] = await Promise.all([monitorNames(), api("/v1/rules")]);
  const fileNames = rules.files.map((f) => f.name);
  const files = await activeFiles(fileNames);
  const now = new Date();
  const source = h("select", { id: "bt-source" },
    h("option", { value: "monitor" }, "A saved monitor"), h("option", { value: "files" }, "Rule text (edited here)"));
  const monitor = h("select", { id: "bt-monitor" }, monitors.map((m) => h("option", { value: m }, m)));
  const file = h("select", { id: "bt-file" }, fileNames.map((f) => h("option", { value: f }, f)),
    h("option", { value: "backtest.rules" }, "a new file"));
  const text = h("textarea", { id: "bt-text", rows: 10, cols: 80, spellcheck: "false" });
  const from = h("input", { id: "bt-from", type: "datetime-local", required: true, value: localInput(new Date(now - DAY_MS)) });
  const to = h("input", { id: "bt-to", type: "datetime-local", required: true, value: localInput(now) });
  const out = h("div", { id: "bt-out", "aria-live": "polite" });
  const monitorPart = h("div", {}, field("Monitor", monitor));
  const textPart = h("div", { hidden: true }, field("File", file), field("Rules (the other active files are loaded with it)", text));
  const pickFile = () => { text.value = files[file.value] ?? ""; };
  const pickSource = () => {
    monitorPart.hidden = source.value !== "monitor";
    textPart.hidden = source.value !== "files";
  };
  file.addEventListener("change", pickFile);
  source.addEventListener("change", pickSource);
  pickFile();
  if (!monitors.length) { source.value = "files"; pickSource(); }

  const run = async (event) => {
    event.preventDefault();
    const body = { from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString() };
    if (source.value === "monitor") body.monitor = monitor.value;
    else body.files = { ...files, [file.value]: text.value };
    out.replaceChildren(h("p", { role: "status" }, "Replaying…"));
    try {
      const result = await api("/v1/backtest", { method: "POST", body });
      out.replaceChildren(resultView(result));
      announce(`Backtest done: ${result.total ?? 0} alert event(s).`);
    } catch (error) {
      out.replaceChildren(errorBox(error));
    }
  };
  main.append(h("h1", {}, "Backtest"),
    h("p", { class: "help" }, "Replays the stored events of a time range through a monitor or rule text. ",
      "Nothing is stored and nothing is sent."),
    h("form", { class: "backtest-form", onsubmit: run },
      field("Rules", source), monitorPart, textPart,
      h("div", { class: "inline" }, field("From", from), field("To", to)),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Run backtest"))),
    out);
  return null;
}
