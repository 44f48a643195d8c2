// Monitors: state, where each is defined, trigger, targets and open alerts.
import { api } from "/console/api.js";
import { announce, badge, errorBox, every, h, POLL_MS } from "/console/dom.js";

function table(items) {
  if (!items.length) return h("p", { class: "empty" }, "No monitors loaded.");
  return h("table", { class: "monitors" },
    h("caption", { class: "sr-only" }, "Monitors"),
    h("thead", {}, h("tr", {}, ["Monitor", "State", "Defined at", "Trigger", "Severity", "Targets", "Open alerts"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((m) => h("tr", { dataset: { monitor: m.name } },
      h("th", { scope: "row" }, m.name, m.disabled ? [" ", badge("disabled")] : null),
      h("td", {}, badge(m.status || "ok"), m.error ? h("div", { class: "error-text" }, m.error) : null),
      h("td", {}, h("a", { href: `#/rules/${encodeURIComponent(m.file)}?line=${m.line}` }, `${m.file}:${m.line}`)),
      h("td", {}, h("code", {}, m.trigger)),
      h("td", {}, badge(m.severity || "—", m.severity)),
      h("td", {}, (m.targets || []).join(", ") || "—"),
      h("td", { class: "num" }, m.open_alerts
        ? h("a", { href: `#/alerts?monitor=${encodeURIComponent(m.name)}` }, m.open_alerts) : "0")))));
}

export async function render(main) {
  const body = h("div");
  main.append(h("h1", {}, "Monitors"), body);
  const refresh = async () => {
    const items = [];
    let cursor = null;
    do {
      const page = await api("/v1/monitors", { params: { cursor } });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    body.replaceChildren(table(items));
    announce(`${items.length} monitor(s), updated ${new Date().toLocaleTimeString()}`);
  };
  try {
    await refresh();
  } catch (error) {
    body.replaceChildren(errorBox(error));
  }
  return every(POLL_MS, refresh);
}
