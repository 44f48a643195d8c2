// A small highlighter for the rule language (dsl/grammar.lark's tokens): returns a
// DocumentFragment of text and <span class="tok-…"> nodes covering `text` exactly.
const KEYWORDS = new Set(("after and by contains disabled during endswith escalate every exists false firing for in " +
  "keep label matches message monitor mute no not notify null of on or over resolved severity startswith to true " +
  "until via when where within without").split(" "));
const KINDS = new Set("webhook slack email sms pagerduty group".split(" "));

const TOKEN = new RegExp([
  String.raw`(?<string>"""(?:[^"\\]|\\.|"(?!""))*(?:"""|$)|"(?:[^"\\\n]|\\.)*"?)`,
  String.raw`(?<comment>#[^\n]*)`,
  String.raw`(?<time>\d{1,2}:\d{2}[ \t]*-[ \t]*\d{1,2}:\d{2})`,
  String.raw`(?<duration>\d+(?:\.\d+)?(?:ms|s|m|h|d)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))*(?![A-Za-z0-9_]))`,
  String.raw`(?<number>\d+(?:\.\d+)?%?)`,
  String.raw`(?<path>[A-Za-z_][A-Za-z0-9_-]*(?:\.(?:[A-Za-z_][A-Za-z0-9_-]*|\*))+)`,
  String.raw`(?<word>[A-Za-z_][A-Za-z0-9_-]*)`,
  String.raw`(?<op>==|!=|<=|>=|[<>{}(),\[\]])`,
].join("|"), "gs");

export function tokens(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last) out.push([null, text.slice(last, m.index)]);
    const [kind] = Object.entries(m.groups).find(([, v]) => v !== undefined);
    let cls = kind;
    if (kind === "word") cls = KEYWORDS.has(m[0]) ? "keyword" : KINDS.has(m[0]) ? "kind" : "ident";
    out.push([cls, m[0]]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push([null, text.slice(last)]);
  return out;
}

export function highlight(text) {
  const fragment = document.createDocumentFragment();
  for (const [cls, value] of tokens(text)) {
    if (!cls) {
      fragment.append(value);
    } else {
      const span = document.createElement("span");
      span.className = `tok-${cls}`;
      span.textContent = value;
      fragment.append(span);
    }
  }
  return fragment;
}
