// BACKTEST: the place for the Backtest page of issue 13 (§ Backtesting), not built yet.
// It will pick a rule (edited or saved) and a time range, call POST /v1/backtest and
// draw when the rule would have fired and resolved on a timeline, with the
// notifications it would have sent. Until then this page says so and does nothing.
import { h } from "/console/dom.js";

export async function render(main) {
  main.append(h("h1", {}, "Backtest"),
    h("p", { class: "notice", role: "note" },
      "Backtesting is not available yet: this service has no POST /v1/backtest. ",
      "Meanwhile the rule editor's preview runs a monitor over events you give it."));
}
