// Silences: create with matchers and a duration, list, expire.
import { api } from "/console/api.js";
import { announce, badge, errorBox, field, h, time } from "/console/dom.js";

const MATCHER_NAMES = ["monitor", "flow", "instance", "customer", "severity"];

function matcherRow(rows, index) {
  const name = h("input", { name: "matcher-name", list: "matcher-names", value: index === 0 ? "monitor" : "" });
  const value = h("input", { name: "matcher-value" });
  const row = h("fieldset", { class: "matcher" }, h("legend", {}, `Matcher ${index + 1}`),
    field("Label", name), field("Value", value),
    h("button", { type: "button", class: "link", onclick: () => row.remove(), "aria-label": `Remove matcher ${index + 1}` }, "Remove"));
  rows.append(row);
  return row;
}

function createForm(onCreated) {
  const rows = h("div", { class: "matchers" });
  let count = 0;
  matcherRow(rows, count++);
  const duration = h("input", { name: "duration", value: "1h", required: true, "aria-describedby": "duration-help" });
  const comment = h("input", { name: "comment" });
  const by = h("input", { name: "by", value: sessionStorage.getItem("tocsin.by") || "", autocomplete: "name" });
  const out = h("div", { role: "status" });
  const form = h("form", { class: "silence-form", "aria-labelledby": "new-silence" },
    h("h2", { id: "new-silence" }, "New silence"),
    h("datalist", { id: "matcher-names" }, MATCHER_NAMES.map((n) => h("option", { value: n }))),
    rows,
    h("button", { type: "button", class: "link", onclick: () => matcherRow(rows, count++) }, "Add matcher"),
    field("Duration", duration), h("p", { id: "duration-help", class: "help" }, "e.g. 30m, 2h, 1d"),
    field("Comment", comment), field("Your name", by),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create silence")), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.replaceChildren();
    const matchers = {};
    for (const row of rows.querySelectorAll(".matcher")) {
      const [n, v] = row.querySelectorAll("input");
      if (n.value.trim()) matchers[n.value.trim()] = v.value;
    }
    try {
      const silence = await api("/v1/silences", { method: "POST", body: {
        matchers, duration: duration.value, comment: comment.value || null, by: by.value || null } });
      out.append(`Silence ${silence.id} created, until ${new Date(silence.ends_at).toLocaleString()}.`);
      await onCreated();
    } catch (error) {
      out.append(errorBox(error));
    }
  });
  return form;
}

function table(items, refresh) {
  if (!items.length) return h("p", { class: "empty" }, "No silences.");
  return h("table", { class: "silences" },
    h("caption", { class: "sr-only" }, "Silences"),
    h("thead", {}, h("tr", {}, ["Matchers", "State", "From", "Until", "Comment", "By", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((s) => h("tr", { dataset: { silence: s.id } },
      h("td", {}, Object.entries(s.matchers).map(([k, v]) => h("code", { class: "matcher-chip" }, `${k}=${v}`))),
      h("td", {}, badge(s.active ? "active" : "expired")),
      h("td", {}, time(s.starts_at)), h("td", {}, time(s.ends_at)),
      h("td", {}, s.comment || "—"), h("td", {}, s.by || "—"),
      h("td", {}, s.active ? h("button", { type: "button", class: "danger", "aria-label": `Expire silence ${Object.entries(s.matchers).map(([k, v]) => `${k}=${v}`).join(" ")}`,
        onclick: async (e) => {
          e.target.disabled = true;
          await api(`/v1/silences/${encodeURIComponent(s.id)}`, { method: "DELETE" });
          announce(`Silence ${s.id} expired.`);
          await refresh();
        } }, "Expire") : null)))));
}

export async function render(main) {
  const list = h("div");
  const refresh = async () => {
    const items = [];
    let cursor = null;
    do { // expired ones too, shown newest first
      const page = await api("/v1/silences", { params: { all: "true", cursor } });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    list.replaceChildren(table(items.reverse(), refresh));
  };
  main.append(h("h1", {}, "Silences"), createForm(refresh), h("h2", {}, "Active and expired"), list);
  try {
    await refresh();
  } catch (error) {
    list.replaceChildren(errorBox(error));
  }
}
