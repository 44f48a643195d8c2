// The console's router: `#/page/arg?query` → the page module's render(main, route).
import { errorBox, h } from "/console/dom.js";

const PAGES = {
  alerts: () => import("/console/alerts.js"),
  monitors: () => import("/console/monitors.js"),
  silences: () => import("/console/silences.js"),
  rules: () => import("/console/editor.js"),
  backtest: () => import("/console/backtest.js"),
};

let stopPage = null;

export function parseRoute(hash) {
  const [path, query = ""] = hash.replace(/^#\/?/, "").split("?");
  const [page = "alerts", ...rest] = path.split("/").filter(Boolean);
  return { page, arg: rest.length ? decodeURIComponent(rest.join("/")) : null, query: new URLSearchParams(query) };
}

async function show() {
  const route = parseRoute(location.hash);
  const main = document.getElementById("main");
  if (stopPage) stopPage();
  stopPage = null;
  for (const a of document.querySelectorAll("nav a[data-page]")) {
    if (a.dataset.page === route.page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const load = PAGES[route.page];
  main.replaceChildren();
  if (!load) {
    main.append(h("h1", {}, "Not found"), h("p", {}, `No page ${route.page}.`));
    return;
  }
  try {
    const module = await load();
    stopPage = (await module.render(main, route)) || null;
  } catch (error) {
    main.append(errorBox(error));
  }
}

window.addEventListener("hashchange", show);
show();
