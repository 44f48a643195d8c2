// Alerts: the filtered list (newest first) and one alert's events, deliveries, context
// and the acknowledge / clear form; both refresh every few seconds.
import { api } from "/console/api.js";
import { announce, badge, errorBox, every, field, h, json, keyText, POLL_MS, time } from "/console/dom.js";

const FILTERS = [
  ["monitor", "Monitor"], ["instance", "Instance"], ["flow", "Flow"], ["customer", "Customer"],
];
const STATUSES = ["", "firing", "pending", "resolved"];
const SEVERITIES = ["", "critical", "error", "warning", "info"];
const ACKED = [["", "any"], ["false", "not acknowledged"], ["true", "acknowledged"]];
const BY = "tocsin.by";

function select(name, options, value) {
  return h("select", { name }, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o || "any"];
    return h("option", { value: v, selected: v === value }, label);
  }));
}

function filterForm(route) {
  const q = route.query;
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter alerts" },
    field("State", select("status", STATUSES, q.get("status") || "")),
    field("Severity", select("severity", SEVERITIES, q.get("severity") || "")),
    field("Acknowledged", select("acknowledged", ACKED, q.get("acknowledged") || "")),
    FILTERS.map(([name, label]) => field(label, h("input", { name, value: q.get(name) || "", type: "search" }))),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const params = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
    location.hash = `#/alerts${route.arg ? `/${encodeURIComponent(route.arg)}` : ""}${[...params].length ? `?${params}` : ""}`;
  });
  return form;
}

function listParams(route) {
  const params = {};
  for (const name of ["status", "severity", "acknowledged", ...FILTERS.map(([n]) => n)]) {
    if (route.query.get(name)) params[name] = route.query.get(name);
  }
  return params;
}

function alertLink(alert, route) {
  const query = route.query.toString();
  return `#/alerts/${encodeURIComponent(alert.id)}${query ? `?${query}` : ""}`;
}

function listTable(items, route) {
  if (!items.length) return h("p", { class: "empty" }, "No alerts match.");
  return h("table", { class: "alerts" },
    h("caption", { class: "sr-only" }, "Alerts, newest first"),
    h("thead", {}, h("tr", {}, ["Monitor", "Key", "State", "Severity", "Fired", "Count"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((a) => h("tr", { class: a.id === route.arg ? "selected" : null, dataset: { alert: a.id } },
      h("td", {}, h("a", { href: alertLink(a, route), "aria-current": a.id === route.arg ? "true" : null }, a.monitor)),
      h("td", {}, keyText(a.key)),
      h("td", {}, badge(a.status), a.acknowledged ? [" ", badge("acknowledged", "ack")] : null),
      h("td", {}, badge(a.severity || "—", a.severity)),
      h("td", {}, time(a.fired_at || a.pending_since)),
      h("td", { class: "num" }, a.count)))));
}

function deliveriesTable(deliveries) {
  if (!deliveries?.length) return h("p", { class: "empty" }, "No deliveries (muted, or no targets).");
  return h("table", { class: "deliveries" },
    h("thead", {}, h("tr", {}, ["Channel", "Target", "State", "Attempts", "Last error", "Next attempt"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, deliveries.map((d) => {
      const attempts = d.attempts || [];
      const last = attempts[attempts.length - 1];
      return h("tr", { class: "delivery", dataset: { state: d.state } },
        h("td", {}, d.channel), h("td", {}, d.target),
        h("td", {}, badge(d.state)),
        h("td", { class: "num" }, attempts.length),
        h("td", {}, last?.error || (last?.status >= 300 ? `HTTP ${last.status}` : "—")),
        h("td", {}, d.state === "pending" || d.state === "sending" ? time(d.next_attempt_at) : "—"));
    })));
}

function alertEvents(detail) {
  return h("ol", { class: "alert-events" }, (detail.alert_events || []).slice().reverse().map((e) =>
    h("li", {},
      h("h4", {}, badge(e.kind), " ", time(e.at), e.muted ? " (muted)" : "", e.targets?.length ? ` → ${e.targets.join(", ")}` : ""),
      deliveriesTable(e.deliveries))));
}

function contextList(context) {
  if (!context.items?.length) return h("p", { class: "empty" }, "No stored events in this range.");
  return h("table", { class: "context" },
    h("thead", {}, h("tr", {}, ["Time", "Type", "Event"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, context.items.map((ev) => h("tr", {},
      h("td", {}, time(ev.time)), h("td", {}, ev.type), h("td", {}, h("code", {}, JSON.stringify(ev)))))));
}

function summary(alert) {
  const rows = [
    ["State", [badge(alert.status), alert.acknowledged ? [" ", badge("acknowledged", "ack")] : null]],
    ["Severity", alert.severity], ["Key", keyText(alert.key)], ["Fired", time(alert.fired_at)],
    ["Resolved", alert.resolved_at ? [time(alert.resolved_at), alert.resolved_by ? ` by ${alert.resolved_by}` : ""] : "—"],
    ["Acknowledged", alert.acknowledged ? [`by ${alert.acknowledged_by || "?"} `, time(alert.acknowledged_at)] : "no"],
    ["Comment", alert.comment || "—"], ["Count", alert.count], ["Value", alert.value ?? "—"],
    ["Threshold", alert.threshold ?? "—"],
  ];
  return h("dl", { class: "summary" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function actionsForm(alertId, refresh) {
  const by = h("input", { name: "by", value: sessionStorage.getItem(BY) || "", autocomplete: "name" });
  const comment = h("input", { name: "comment" });
  const out = h("div", { role: "status" });
  const act = (action) => async (e) => {
    e.preventDefault();
    sessionStorage.setItem(BY, by.value);
    out.replaceChildren();
    try {
      const body = { by: by.value || null, comment: comment.value || null };
      await api(`/v1/alerts/${encodeURIComponent(alertId)}/${action}`, { method: "POST", body });
      out.append(`${action === "clear" ? "Cleared" : "Acknowledged"}.`);
      comment.value = "";
      await refresh();
    } catch (error) {
      out.append(errorBox(error));
    }
  };
  return h("form", { class: "alert-actions", "aria-label": "Acknowledge or clear" },
    field("Your name", by), field("Comment", comment),
    h("div", { class: "actions" },
      h("button", { type: "submit", onclick: act("acknowledge") }, "Acknowledge"),
      h("button", { type: "button", class: "danger", onclick: act("clear") }, "Clear")),
    out);
}

async function detailView(alertId) {
  const base = `/v1/alerts/${encodeURIComponent(alertId)}`;
  const section = h("section", { class: "detail", "aria-labelledby": "alert-title" });
  const head = h("div");
  const events = h("div");
  const context = h("div");
  const before = h("input", { value: "5m", size: 5 });
  const after = h("input", { value: "5m", size: 5 });
  const loadContext = async () => {
    try {
      context.replaceChildren(contextList(await api(`${base}/context`, { params: { before: before.value, after: after.value } })));
    } catch (error) {
      context.replaceChildren(errorBox(error));
    }
  };
  const refresh = async () => {
    const alert = await api(base);
    head.replaceChildren(h("h2", { id: "alert-title", tabindex: "-1" }, alert.monitor), summary(alert));
    events.replaceChildren(alertEvents(alert));
  };
  const contextForm = h("form", { class: "inline", "aria-label": "Context range" },
    field("Before", before), field("After", after), h("button", { type: "submit" }, "Show"));
  contextForm.addEventListener("submit", (e) => { e.preventDefault(); loadContext(); });
  section.append(head, actionsForm(alertId, refresh),
    h("h3", {}, "Alert events and deliveries"), events,
    h("h3", {}, "Stored events around it"), contextForm, context);
  try {
    await refresh();
  } catch (error) {
    section.replaceChildren(h("h2", { id: "alert-title" }, "Alert"), errorBox(error));
    return { section, refresh: async () => {} };
  }
  await loadContext();
  return { section, refresh };
}

export async function render(main, route) {
  const list = h("div", { class: "list" });
  const refreshList = async () => {
    const page = await api("/v1/alerts", { params: listParams(route) });
    list.replaceChildren(listTable(page.items, route));
    announce(`${page.items.length} alert(s), updated ${new Date().toLocaleTimeString()}`);
  };
  main.append(h("h1", {}, "Alerts"), filterForm(route));
  const layout = h("div", { class: route.arg ? "split" : "" }, list);
  main.append(layout);
  try {
    await refreshList();
  } catch (error) {
    list.replaceChildren(errorBox(error));
  }
  let detail = null;
  if (route.arg) {
    detail = await detailView(route.arg);
    layout.append(detail.section);
    detail.section.querySelector("h2")?.focus();
  }
  return every(POLL_MS, async () => {
    await refreshList();
    if (detail) await detail.refresh();
  });
}
