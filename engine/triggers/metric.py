"""Metric triggers: aggregates over a sliding window, one series per `by` key.

The condition is evaluated on every event that feeds a series and whenever the series'
oldest bucket leaves the window (a `win` timer at that exact time), so a window that
empties resolves without new events and replay needs no clock ticks in between.

    condition true:  inactive -> pending (`for`: a `for` timer) or firing;
                     firing: a running `keep firing for` countdown is cancelled
    condition false: pending -> inactive; firing -> resolved, or after `keep firing for`
                     (a `keep` timer re-checks when it runs out)

A series exists from its first matching event and is dropped once its window is empty,
its alert is closed and its warm-up is over; without `by` the monitor's one series
exists from loading on and is never dropped (so a silent window can fire it). After a
person clears an alert, the series must see its condition false once before it can fire
again.

Warm-up (engine/warmup.py): until a whole window has been observed since the series
started or the monitor was loaded (`loaded_at`, whichever is later), the condition is
judged by `MetricSpec.young`; a `warm` timer at that moment judges it in full. The
loading time is part of the runtime's state, so a restore from a snapshot or a reload
that keeps the monitor does not start a new warm-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.alerts import alert_id
from engine.events import key_id
from engine.model import FIRING, PENDING
from engine.timers import Timer
from engine.triggers.base import KEY_CACHE, TRIGGER_HANDLER, TriggerRuntime
from engine.windows import Series

if TYPE_CHECKING:
    from engine.alerts import AlertBook
    from engine.compile import CompiledMonitor
    from engine.model import Alert
    from engine.state import EngineState

NEVER = -(1 << 62)  # a time before any event: "warm from the start", "loaded long ago"


class _Entry:
    """One series with what its evaluation needs at hand."""

    __slots__ = ("key", "kid", "series", "aid", "expiry", "values", "warm_at")

    def __init__(self, key: dict, kid: str, series: Series, aid: str, warm_at: int = NEVER) -> None:
        self.key, self.kid, self.series, self.aid = key, kid, series, aid
        self.expiry: int | None = None  # the `win` timer's deadline, once scheduled
        self.values: tuple | None = None  # its key values, while `_by_values` holds it
        self.warm_at = warm_at  # from then on the condition is judged in full


class MetricRuntime(TriggerRuntime):
    def __init__(self, cm: CompiledMonitor, state: EngineState, book: AlertBook) -> None:
        super().__init__(cm, state, book)
        self.series: dict[str, _Entry] = {}
        # the live series by key values (`CompiledMonitor.key_values`): one lookup per event
        self._by_values: dict[tuple, _Entry] = {}
        self.cleared: set[str] = set()
        self._funcs = [a.func for a in cm.metric.aggs]
        self._feeds: dict[str, list] = {}  # event type -> the aggregates it feeds
        self.loaded_at = NEVER  # `start` sets it; a restored runtime keeps its own
        self._one = not cm.key_fields  # no `by`: one series, from loading on

    def start(self, now: int) -> None:
        """Loaded at `now`: no series yet, or only the one, observed from now on (a
        restore starts a monitor it cannot keep again, at a later time)."""
        self.loaded_at = now
        self.series, self._by_values, self.cleared = {}, {}, set()
        if self._one:
            self._arm_one(now, now)

    def _arm_one(self, now: int, start: int) -> None:
        """The one series of a monitor without `by`, observed since `start`; if its
        empty window already satisfies the condition, a `win` timer judges it at `now`."""
        key: dict = {}
        kid = key_id(key)
        entry = self.series.get(kid) or self._new_entry(key, kid, None, start)
        if self._holds(entry, entry.series.values(), now):
            self.state.timers.schedule(TRIGGER_HANDLER, "win", self.cm.name, kid, now)

    def _new_entry(self, key: dict, kid: str, aid: str | None, start: int) -> _Entry:
        """A series first seen at `start` (its first event, or the loading); with a
        warm-up, a `warm` timer judges it in full a window after it (or the loading)."""
        warm_at = NEVER
        if self.cm.metric.young is not None:
            warm_at = max(start, self.loaded_at) + self.cm.metric.window_ms
            if warm_at > self.state.clock_ms:  # else warm already: judged in full from now on
                self.state.timers.schedule(TRIGGER_HANDLER, "warm", self.cm.name, kid, warm_at)
        series = Series(self.cm.metric.window_ms, self._funcs)
        entry = self.series[kid] = _Entry(key, kid, series, aid or alert_id(self.cm.name, kid), warm_at)
        return entry

    def _holds(self, entry: _Entry, vals: list, now: int) -> bool:
        """The condition at `now`: in full once warm, else what the young window tells."""
        if now >= entry.warm_at:
            return self.cm.metric.condition(vals)
        return self.cm.metric.young(vals)

    def _feeds_of(self, etype: str) -> list:
        """(aggregate index, its `where`, its field) of the aggregates `etype` feeds."""
        if len(self._feeds) > 1000:
            self._feeds = {}
        feeds = self._feeds[etype] = [(i, a.where, a.field) for i, a in enumerate(self.cm.metric.aggs)
                                      if a.pattern.matches(etype)]
        return feeds

    def _series_of(self, ev: dict, fam: str, t: int) -> _Entry:
        """The series `ev` (at `t`) feeds, created if new."""
        values = self.cm.key_values(ev, fam)
        if values is not None:
            entry = self._by_values.get(values)
            if entry is not None:
                return entry
        key, kid, aid = self.keyed(ev, fam)
        entry = self.series.get(kid) or self._new_entry(key, kid, aid, t)
        if values is not None and entry.values is None:
            if len(self._by_values) >= KEY_CACHE:
                for e in self._by_values.values():
                    e.values = None
                self._by_values.clear()
            entry.values = values
            self._by_values[values] = entry
        return entry

    def on_event(self, ev: dict, fam: str, t: int) -> None:
        cm = self.cm
        if cm.where is not None and not cm.where(ev, fam):
            return
        etype = ev.get("type", "")
        feeds = self._feeds.get(etype) or self._feeds_of(etype)
        kid = entry = series = None
        added = False
        for i, where, field in feeds:
            if where is not None and not where(ev, fam):
                continue
            if entry is None:
                entry = self._series_of(ev, fam, t)
                kid, series = entry.kid, entry.series
            if series.add(t, i, field(ev, fam) if field is not None else None):
                added = True
        if added:
            clock = self.state.clock_ms
            now = clock if clock > t else t
            series.advance(now)
            self._evaluate(kid, entry, now)

    def _evaluate(self, kid: str, entry: _Entry, now: int) -> None:
        series = entry.series
        vals = series.values()
        metric = self.cm.metric
        holds = metric.condition(vals) if now >= entry.warm_at else metric.young(vals)
        alert = self.state.store.get(entry.aid)
        if alert is not None:
            self._transition(kid, entry, alert, holds, vals, now)
        elif holds:
            if kid not in self.cleared:
                self._start(kid, entry, vals, now)
        elif self.cleared:
            self.cleared.discard(kid)
        heap = series.heap
        if not heap or (heap[0] + series.n) * series.res_ms != entry.expiry:
            self._schedule_expiry(kid, entry, now)

    def _start(self, kid: str, entry: _Entry, vals: list, now: int) -> None:
        """inactive -> pending (`for`) or firing."""
        cm, book = self.cm, self.book
        alert = book.open(cm, entry.key, kid)
        alert.threshold = cm.metric.threshold(vals)
        value = cm.metric.value(vals)
        if cm.for_ms:
            alert.value = value
            book.pending(alert, now)
            self.state.timers.schedule(TRIGGER_HANDLER, "for", cm.name, kid, now + cm.for_ms)
        else:
            book.fire(cm, alert, now, None, value, repeat_ms=cm.every_ms)

    def _transition(self, kid: str, entry: _Entry, alert: Alert, holds: bool, vals: list,
                    now: int) -> None:
        cm, book, timers = self.cm, self.book, self.state.timers
        status = alert.status
        if holds:
            if kid in self.cleared:
                return
            if status == FIRING:
                timers.cancel("keep", cm.name, kid)
                alert.value = cm.metric.value(vals)
            elif status != PENDING:
                self._start(kid, entry, vals, now)
            return
        self.cleared.discard(kid)
        if status == PENDING:
            timers.cancel("for", cm.name, kid)
            book.drop_pending(alert)
        elif status == FIRING:
            alert.value = cm.metric.value(vals)
            if not cm.keep_ms:
                book.resolve(cm, alert, now, notify=True)
            elif not timers.has("keep", cm.name, kid):
                timers.schedule(TRIGGER_HANDLER, "keep", cm.name, kid, now + cm.keep_ms)

    def _schedule_expiry(self, kid: str, entry: _Entry, now: int) -> None:
        nxt = entry.series.next_expiry_ms()
        entry.expiry = nxt
        if nxt is not None:
            self.state.timers.schedule(TRIGGER_HANDLER, "win", self.cm.name, kid, nxt)
            return
        if self._one or now < entry.warm_at:
            return  # the one series stays; a warming one waits for its `warm` timer
        alert = self.state.store.get(entry.aid)
        if (alert is None or alert.status not in (FIRING, PENDING)) and kid not in self.cleared:
            del self.series[kid]
            if entry.values is not None:
                self._by_values.pop(entry.values, None)

    def on_timer(self, timer: Timer) -> None:
        entry = self.series.get(timer.key)
        if entry is None:
            return
        now = timer.deadline
        entry.series.advance(now)
        if timer.kind in ("win", "warm"):
            if timer.kind == "win":
                entry.expiry = None
            self._evaluate(timer.key, entry, now)
            return
        cm, book = self.cm, self.book
        alert = book.find(cm, timer.key)
        vals = entry.series.values()
        holds = self._holds(entry, vals, now)
        if timer.kind == "for" and alert is not None and alert.status == PENDING:
            if holds:
                book.fire(cm, alert, now, None, cm.metric.value(vals), repeat_ms=cm.every_ms)
            else:
                book.drop_pending(alert)
        elif timer.kind == "keep" and alert is not None and alert.status == FIRING and not holds:
            alert.value = cm.metric.value(vals)
            book.resolve(cm, alert, now, notify=True)

    def on_clear(self, alert: Alert, at: int) -> None:
        kid = key_id(alert.key)
        entry = self.series.get(kid)
        for kind in ("for", "keep"):
            self.state.timers.cancel(kind, self.cm.name, kid)
        if entry is not None and self._holds(entry, entry.series.values(), at):
            self.cleared.add(kid)

    def dump(self) -> dict[str, Any]:
        return {
            "series": {kid: _dump_entry(e) for kid, e in self.series.items()},
            "cleared": sorted(self.cleared),
            "loaded": self.loaded_at,
        }

    def load(self, saved: dict[str, Any]) -> None:
        """Continue from `dump()`. A snapshot from before warm-ups were recorded counts
        as loaded long ago, its series as warm."""
        self.series = {}
        self._by_values = {}
        self.loaded_at = saved.get("loaded", NEVER)
        window_ms = self.cm.metric.window_ms
        for kid, row in saved.get("series", {}).items():
            series = Series(window_ms, self._funcs)
            series.load(row["window"])
            self.series[kid] = _Entry(row["key"], kid, series, alert_id(self.cm.name, kid),
                                      row.get("warm", NEVER))
        self.cleared = set(saved.get("cleared", ()))
        if self._one and key_id({}) not in self.series:  # an older snapshot dropped it
            self._arm_one(self.state.clock_ms, self.loaded_at)


def _dump_entry(entry: _Entry) -> dict[str, Any]:
    row: dict[str, Any] = {"key": entry.key, "window": entry.series.dump()}
    if entry.warm_at != NEVER:
        row["warm"] = entry.warm_at
    return row
