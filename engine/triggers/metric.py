"""Metric triggers: aggregates over a sliding window, one series per `by` key.

The condition is evaluated on every event that feeds a series and whenever the series'
oldest bucket leaves the window (a `win` timer at that exact time), so a window that
empties resolves without new events and replay needs no clock ticks in between.

    condition true:  inactive -> pending (`for`: a `for` timer) or firing;
                     firing: a running `keep firing for` countdown is cancelled
    condition false: pending -> inactive; firing -> resolved, or after `keep firing for`
                     (a `keep` timer re-checks when it runs out)

A series exists from its first matching event and is dropped once its window is empty
and its alert is closed. After a person clears an alert, the series must see its
condition false once before it can fire again.
"""

from __future__ import annotations

from typing import Any

from engine.events import key_id
from engine.model import FIRING, PENDING
from engine.timers import Timer
from engine.triggers.base import Runtime
from engine.windows import Series


class MetricRuntime(Runtime):
    def __init__(self, cm: Any, engine: Any) -> None:
        super().__init__(cm, engine)
        self.series: dict[str, tuple[dict, Series]] = {}
        self.cleared: set[str] = set()
        self._funcs = [a.func for a in cm.metric.aggs]
        self._feeds: dict[str, list] = {}  # event type -> the aggregates it feeds

    def on_event(self, ev: dict, fam: str, t: int) -> None:
        cm = self.cm
        if cm.where is not None and not cm.where(ev, fam):
            return
        etype = ev.get("type", "")
        feeds = self._feeds.get(etype)
        if feeds is None:
            feeds = self._feeds[etype] = [(i, a) for i, a in enumerate(cm.metric.aggs)
                                          if a.pattern.matches(etype)]
            if len(self._feeds) > 1000:
                self._feeds = {}
        key = kid = entry = None
        added = False
        for i, agg in feeds:
            if agg.where is not None and not agg.where(ev, fam):
                continue
            if entry is None:
                key = cm.key(ev, fam)
                kid = self.kid(key)
                entry = self.series.get(kid)
                if entry is None:
                    entry = self.series[kid] = (key, Series(cm.metric.window_ms, self._funcs))
            v = agg.field(ev, fam) if agg.field is not None else None
            added = entry[1].add(t, i, v) or added
        if added:
            now = max(self.engine.clock_ms, t)
            entry[1].advance(now)
            self._evaluate(kid, entry, now)

    def _evaluate(self, kid: str, entry: tuple[dict, Series], now: int) -> None:
        cm, book, timers = self.cm, self.book, self.engine.timers
        key, series = entry
        vals = series.values()
        holds = cm.metric.condition(vals)
        value = cm.metric.value(vals)
        alert = book.find(cm, kid)
        status = alert.status if alert is not None else None
        if holds:
            if kid in self.cleared:
                pass
            elif status == FIRING:
                timers.cancel("keep", cm.name, kid)
                alert.value = value
            elif status != PENDING:
                alert = book.open(cm, key, kid)
                alert.threshold = cm.metric.threshold(vals)
                if cm.for_ms:
                    alert.value = value
                    book.pending(alert, now)
                    timers.schedule("for", cm.name, kid, now + cm.for_ms)
                else:
                    book.fire(cm, alert, now, None, value, repeat_ms=cm.every_ms)
        else:
            self.cleared.discard(kid)
            if status == PENDING:
                timers.cancel("for", cm.name, kid)
                book.drop_pending(alert)
            elif status == FIRING:
                alert.value = value
                if not cm.keep_ms:
                    book.resolve(cm, alert, now, notify=True)
                elif timers.get("keep", cm.name, kid) is None:
                    timers.schedule("keep", cm.name, kid, now + cm.keep_ms)
        self._schedule_expiry(kid, entry, alert)

    def _schedule_expiry(self, kid: str, entry: tuple[dict, Series], alert: Any) -> None:
        nxt = entry[1].next_expiry_ms()
        if nxt is not None:
            self.engine.timers.schedule("win", self.cm.name, kid, nxt)
        elif alert is None or alert.status not in (FIRING, PENDING):
            if kid not in self.cleared:
                del self.series[kid]

    def on_timer(self, timer: Timer) -> None:
        entry = self.series.get(timer.key)
        if entry is None:
            return
        now = timer.deadline
        entry[1].advance(now)
        if timer.kind == "win":
            self._evaluate(timer.key, entry, now)
            return
        cm, book = self.cm, self.book
        alert = book.find(cm, timer.key)
        vals = entry[1].values()
        holds = cm.metric.condition(vals)
        if timer.kind == "for" and alert is not None and alert.status == PENDING:
            if holds:
                book.fire(cm, alert, now, None, cm.metric.value(vals), repeat_ms=cm.every_ms)
            else:
                book.drop_pending(alert)
        elif timer.kind == "keep" and alert is not None and alert.status == FIRING and not holds:
            alert.value = cm.metric.value(vals)
            book.resolve(cm, alert, now, notify=True)

    def on_clear(self, alert: Any, at: int) -> None:
        kid = key_id(alert.key)
        entry = self.series.get(kid)
        for kind in ("for", "keep"):
            self.engine.timers.cancel(kind, self.cm.name, kid)
        if entry is not None and self.cm.metric.condition(entry[1].values()):
            self.cleared.add(kid)

    def dump(self) -> dict[str, Any]:
        return {
            "series": {kid: {"key": key, "window": s.dump()} for kid, (key, s) in self.series.items()},
            "cleared": sorted(self.cleared),
        }

    def load(self, state: dict[str, Any]) -> None:
        self.series = {}
        for kid, row in state.get("series", {}).items():
            s = Series(self.cm.metric.window_ms, self._funcs)
            s.load(row["window"])
            self.series[kid] = (row["key"], s)
        self.cleared = set(state.get("cleared", ()))
