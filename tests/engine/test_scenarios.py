"""Scenario tests: rules + events + a clock -> the expected alert events.

Each case is (rules, events, replay until, expected rows). A row is
(time after BASE, monitor, kind, key values..., ["muted"]). Replay starts at BASE.
"""

from __future__ import annotations

import pytest

from tests.engine.support import ev, run

G = 'group "Ops" { email "ana@example.com" sms "+15550100" webhook "Hook" }\nwebhook "Hook" { url "https://example.com/h" }\n'
X = {"id": "X1"}

CASES = {
    # ----------------------------------------------------------- event triggers
    "event fires then repeats on every match": (
        'monitor "m" when execution.failed',
        [ev("execution.failed", "00:00:10"), ev("execution.failed", "00:00:20"),
         ev("execution.completed", "00:00:25")],
        "00:01:00",
        [("00:00:10", "m", "fired", "I1", "Sync"), ("00:00:20", "m", "repeated", "I1", "Sync")],
    ),
    "event keys on instance and flow": (
        'monitor "m" when execution.failed',
        [ev("execution.failed", "00:00:10"), ev("execution.failed", "00:00:11", flow="Import"),
         ev("execution.failed", "00:00:12", instance=None, flow=None)],
        "00:01:00",
        [("00:00:10", "m", "fired", "I1", "Sync"), ("00:00:11", "m", "fired", "I1", "Import"),
         ("00:00:12", "m", "fired")],
    ),
    "every throttles and counts skipped matches into a digest": (
        'monitor "m" when execution.failed every 1m',
        [ev("execution.failed", "00:00:00"), ev("execution.failed", "00:00:10"),
         ev("execution.failed", "00:00:20"), ev("execution.failed", "00:05:00")],
        "00:10:00",
        [("00:00:00", "m", "fired", "I1", "Sync"), ("00:01:00", "m", "repeated", "I1", "Sync"),
         ("00:05:00", "m", "repeated", "I1", "Sync")],
    ),
    "until resolves the open alert of the same key": (
        'monitor "m" when execution.failed until execution.completed',
        [ev("execution.failed", "00:00:00"), ev("execution.completed", "00:00:05", flow="Other"),
         ev("execution.completed", "00:00:10")],
        "00:01:00",
        [("00:00:00", "m", "fired", "I1", "Sync"), ("00:00:10", "m", "resolved", "I1", "Sync")],
    ),
    "event alert expires silently after 24h": (
        'monitor "m" when execution.failed',
        [ev("execution.failed", "00:00:00"), ev("execution.failed", "1d 00:00:01")],
        "1d 00:01:00",
        [("00:00:00", "m", "fired", "I1", "Sync"), ("1d 00:00:01", "m", "fired", "I1", "Sync")],
    ),
    "where filters the triggering event": (
        'monitor "m" when execution.failed where step == "Fetch" and message contains "timeout"',
        [ev("execution.failed", "00:00:01", step="Fetch", message="HTTP 503"),
         ev("execution.failed", "00:00:02", step="Fetch", message="read timeout")],
        "00:01:00",
        [("00:00:02", "m", "fired", "I1", "Sync")],
    ),
    "family pattern matches every type of the family": (
        'monitor "m" when execution.* where exists execution.id by instance',
        [ev("execution.started", "00:00:01", execution=X), ev("log.written", "00:00:02"),
         ev("execution.failed", "00:00:03", execution=X)],
        "00:00:10",
        [("00:00:01", "m", "fired", "I1"), ("00:00:03", "m", "repeated", "I1")],
    ),
    # --------------------------------------------------------- comparison triggers
    "log level comparison with bare word, until a lower level": (
        'monitor "m" when log.level >= warn until log.written where level == info',
        [ev("log.written", "00:00:01", level="info"), ev("log.written", "00:00:02", level="error"),
         ev("log.written", "00:00:03", level="debug"), ev("log.written", "00:00:04", level="info")],
        "00:01:00",
        [("00:00:02", "m", "fired", "I1", "Sync"), ("00:00:04", "m", "resolved", "I1", "Sync")],
    ),
    "custom field comparison reads data": (
        'monitor "m" when order.total > 1000 by customer',
        [ev("order.placed", "00:00:01", total=5, customer={"name": "Acme", "external_id": "a-1"}),
         ev("order.placed", "00:00:02", total=1500, customer={"name": "Acme", "external_id": "a-1"})],
        "00:01:00",
        [("00:00:02", "m", "fired", "a-1")],
    ),
    # ------------------------------------------------------- execution.duration
    "duration fires while the run is still going, once per execution": (
        'monitor "m" when execution.duration >= 10s',
        [ev("execution.started", "00:00:00", execution={"id": "E1"}),
         ev("execution.completed", "00:00:30", execution={"id": "E1", "duration": 30})],
        "00:01:00",
        [("00:00:10", "m", "fired", "I1", "Sync")],
    ),
    "a run that never completes fires at start + D": (
        'monitor "m" when execution.duration >= 1m on flow "Sync"',
        [ev("execution.started", "00:00:00", execution={"id": "E1"}),
         ev("execution.started", "00:00:05", flow="Other", execution={"id": "E2"})],
        "01:00:00",
        [("00:01:00", "m", "fired", "I1", "Sync")],
    ),
    "an execution whose start was missed fires on completion": (
        'monitor "m" when execution.duration >= 10s',
        [ev("execution.completed", "00:00:30", execution={"id": "E9", "duration": 12.5}),
         ev("execution.failed", "00:00:40", instance="I2", execution={"id": "E8", "duration": 3})],
        "00:01:00",
        [("00:00:30", "m", "fired", "I1", "Sync")],
    ),
    "a fast run does not fire": (
        'monitor "m" when execution.duration >= 10s',
        [ev("execution.started", "00:00:00", execution={"id": "E1"}),
         ev("execution.completed", "00:00:04", execution={"id": "E1", "duration": 4})],
        "00:01:00",
        [],
    ),
    # ------------------------------------------------------------------ absence
    "absence: keys from on are expected from loading; repeats; resolves": (
        'monitor "m" when no execution.completed within 15m on flow "Sync", "Import"',
        [ev("execution.completed", "00:10:00", flow="Import"),
         ev("execution.completed", "00:40:00")],
        "00:50:00",
        [("00:15:00", "m", "fired", "Sync"), ("00:25:00", "m", "fired", "Import"),
         ("00:30:00", "m", "repeated", "Sync"), ("00:40:00", "m", "resolved", "Sync"),
         ("00:40:00", "m", "repeated", "Import")],
    ),
    "absence: keys seen since loading, every overrides the repeat": (
        'monitor "m" when no execution.completed within 10m every 1h',
        [ev("execution.completed", "00:00:00"), ev("execution.completed", "00:05:00", instance="I2")],
        "01:30:00",
        [("00:10:00", "m", "fired", "I1", "Sync"), ("00:15:00", "m", "fired", "I2", "Sync"),
         ("01:10:00", "m", "repeated", "I1", "Sync"), ("01:15:00", "m", "repeated", "I2", "Sync")],
    ),
    # ------------------------------------------------------------------- metrics
    "metric count fires and resolves when the window empties without events": (
        'monitor "m" when count(login.failed) > 2 over 1m',
        [ev("login.failed", "00:00:00"), ev("login.failed", "00:00:10"),
         ev("login.failed", "00:00:20")],
        "00:05:00",
        [("00:00:20", "m", "fired"), ("00:01:00", "m", "resolved")],
    ),
    "metric by series: one alert per value": (
        'monitor "m" when count(login.failed) >= 2 over 5m by login_location',
        [ev("login.failed", "00:00:00", login_location="DE"),
         ev("login.failed", "00:00:01", login_location="FR"),
         ev("login.failed", "00:00:02", login_location="DE")],
        "00:01:00",
        [("00:00:02", "m", "fired", "DE")],
    ),
    "ratio with a zero denominator has no value": (
        'monitor "m" when count(execution.failed) / count(execution.completed) > 10% over 10m',
        [ev("execution.failed", "00:00:00"), ev("execution.completed", "00:00:10"),
         ev("execution.failed", "00:00:20")],
        "00:01:00",
        [("00:00:10", "m", "fired")],
    ),
    "ratio and volume together": (
        'monitor "m" when count(execution.failed) / count(execution.*) > 10% and count(execution.*) >= 3 over 1h by flow',
        [ev("execution.completed", "00:00:00"), ev("execution.failed", "00:00:01"),
         ev("execution.completed", "00:00:02"), ev("execution.completed", "00:00:03", flow="B")],
        "00:00:30",
        [("00:00:02", "m", "fired", "Sync")],
    ),
    "for: the condition must hold that long": (
        'monitor "m" when count(login.failed) >= 2 over 10m for 2m',
        [ev("login.failed", "00:00:00"), ev("login.failed", "00:00:30")],
        "00:05:00",
        [("00:02:30", "m", "fired")],
    ),
    "for interrupted: no alert": (
        'monitor "m" when avg(duration of execution.completed) > 30s over 10m for 2m',
        [ev("execution.completed", "00:00:00", execution={"duration": 60}),
         ev("execution.completed", "00:01:00", execution={"duration": 1}),
         ev("execution.completed", "00:01:10", execution={"duration": 1})],
        "00:10:00",
        [],
    ),
    "flapping metric with keep firing for": (
        'monitor "m" when max(duration of execution.completed) > 30s over 1m keep firing for 5m',
        [ev("execution.completed", "00:00:00", execution={"duration": 60}),
         ev("execution.completed", "00:03:00", execution={"duration": 60}),
         ev("execution.completed", "00:10:00", execution={"duration": 1})],
        "00:20:00",
        [("00:00:00", "m", "fired"), ("00:09:00", "m", "resolved")],
    ),
    "metric every repeats while firing": (
        'monitor "m" when count(login.failed) >= 1 over 10m every 4m',
        [ev("login.failed", "00:00:00")],
        "00:20:00",
        [("00:00:00", "m", "fired"), ("00:04:00", "m", "repeated"), ("00:08:00", "m", "repeated"),
         ("00:10:00", "m", "resolved")],
    ),
    "aggregates: sum, min, p95, distinct, rate": (
        'monitor "sum" when sum(amount of order.placed) >= 100 over 1h\n'
        'monitor "min" when min(amount of order.placed) < 5 over 1h\n'
        'monitor "p95" when p95(amount of order.placed) > 80 over 1h\n'
        'monitor "distinct" when distinct(ip of order.placed) >= 3 over 1h\n'
        'monitor "rate" when rate(order.placed) > 0.001 over 1h',
        [ev("order.placed", "00:00:00", amount=50, ip="a"),
         ev("order.placed", "00:00:01", amount=90, ip="a"),
         ev("order.placed", "00:00:02", amount=3, ip="b"),
         ev("order.placed", "00:00:03", amount=10, ip="c")],
        "00:00:30",
        [("00:00:01", "sum", "fired"), ("00:00:01", "p95", "fired"),
         ("00:00:02", "min", "fired"), ("00:00:03", "distinct", "fired"),
         ("00:00:03", "rate", "fired")],
    ),
    # ---------------------------------- missing values, warm-up, series from loading
    # Cases translated from other projects' tests (ElastAlert2 tests/rules_test.py,
    # Prometheus rules/alerting_test.go and cmd/promtool/testdata), in Tocsin's terms:
    # events instead of queries, evaluation at every event and window boundary instead
    # of at a polling interval (so an alert may come earlier than their next poll).
    "distinct skips a missing or null field (ElastAlert cardinality, nested field)": (
        'monitor "m" when distinct(ip of login.failed) > 4 over 10m',
        [*(ev("login.failed", f"00:00:0{i}", ip=f"10.0.0.{i + 1}") for i in range(4)),
         ev("login.failed", "00:00:04", ip="10.0.0.4"), ev("login.failed", "00:00:05"),
         ev("login.failed", "00:00:06", ip=None), ev("login.failed", "00:00:07", ip="10.0.0.5"),
         *(ev("login.failed", "00:15:00", ip=f"10.0.0.{i}") for i in (6, 7, 8))],
        "00:20:00",
        [("00:00:07", "m", "fired"), ("00:10:00", "m", "resolved")],
    ),
    "events without a number: avg, min, p95 have no value, sum is 0, distinct counts values only": (
        'monitor "avg" when avg(ms of http.served) < 100 over 1m\n'
        'monitor "min" when min(ms of http.served) < 100 over 1m\n'
        'monitor "p95" when p95(ms of http.served) < 100 over 1m\n'
        'monitor "sum" when sum(ms of http.served) <= 0 over 1m\n'
        'monitor "distinct" when distinct(ms of http.served) == 1 over 1m',
        [ev("http.served", "00:00:00"), ev("http.served", "00:00:30", ms=None),
         ev("http.served", "00:00:40", ms="fast"), ev("http.served", "00:01:00")],
        "00:01:30",
        [("00:01:00", "sum", "fired"), ("00:01:00", "distinct", "fired")],
    ),
    "a low count is first judged a whole window after loading (ElastAlert flatline)": (
        'monitor "m" when count(doc.hit) < 2 over 30s',
        [ev("doc.hit", "00:00:00"), *(ev("doc.hit", f"00:00:0{i}") for i in range(10)),
         *(ev("doc.hit", f"00:00:5{i}") for i in range(10))],
        "00:02:00",
        [("00:00:38", "m", "fired"), ("00:00:51", "m", "resolved"), ("00:01:28", "m", "fired")],
    ),
    "a deploy does not page and un-page at once on the first events": (
        'monitor "m" when count(doc.hit) < 2 over 30s',
        [ev("doc.hit", "00:00:00"), ev("doc.hit", "00:00:00"),
         *(ev("doc.hit", f"00:00:{s:02d}") for s in range(10, 70, 10))],
        "00:01:00",
        [],
    ),
    "no data at all: a low count or rate fires a window after loading (ElastAlert flatline, no data)": (
        'monitor "count" when count(doc.hit) < 2 over 30s\n'
        'monitor "rate" when rate(order.placed) < 0.5 over 10m',
        [],
        "00:15:00",
        [("00:00:30", "count", "fired"), ("00:10:00", "rate", "fired")],
    ),
    "with by, each key warms up from its own first event (ElastAlert flatline, query key)": (
        'monitor "m" when count(doc.hit) < 1 over 30s by qk',
        [ev("doc.hit", "00:00:00", qk="key1"), ev("doc.hit", "00:00:00", qk="key2"),
         ev("doc.hit", "00:00:00", qk="key3"), ev("doc.hit", "00:00:20", qk="key3")],
        "00:01:00",
        [("00:00:30", "m", "fired", "key1"), ("00:00:30", "m", "fired", "key2"),
         ("00:00:50", "m", "fired", "key3")],
    ),
    "a key first seen late warms up from then, not from loading": (
        'monitor "m" when count(heartbeat.sent) < 2 over 1m by host',
        [*(ev("heartbeat.sent", f"00:{s // 60:02d}:{s % 60:02d}", host="A") for s in range(0, 600, 30)),
         ev("heartbeat.sent", "00:05:00", host="B")],
        "00:09:59",
        [("00:06:00", "m", "fired", "B")],
    ),
    "too few distinct values, judged after a whole window (ElastAlert min cardinality)": (
        'monitor "m" when distinct(user of login.ok) < 4 over 10m',
        [ev("login.ok", "00:00:00", user="foo"), ev("login.ok", "00:00:00", user="bar"),
         *(ev("login.ok", "00:05:00", user=u) for u in ("faz", "fuz", "fiz")),
         ev("login.ok", "00:15:00", user="faz")],
        "00:16:00",
        [("00:10:00", "m", "fired")],
    ),
    "value statistics are judged at once (Prometheus TestAlertingRule, for 1m)": (
        'monitor "m" when min(requests of http.sampled) < 100 over 5m for 1m by instance',
        [ev("http.sampled", f"00:{5 * i:02d}:00", instance=inst, requests=v)
         for i, pair in enumerate(zip((75, 85, 95, 105, 105, 95, 85), (80, 90, 100, 110, 120, 130, 140)))
         for inst, v in zip(("0", "1"), pair)],
        "00:30:00",
        [("00:01:00", "m", "fired", "0"), ("00:01:00", "m", "fired", "1"),
         ("00:10:00", "m", "resolved", "1"), ("00:15:00", "m", "resolved", "0"),
         ("00:26:00", "m", "fired", "0")],
    ),
    "a statistic's == is judged at once, a tautology at loading (promtool InstanceDown, AlwaysFiring)": (
        'monitor "down" when max(up of target.scraped) == 0 over 1m for 5m by instance\n'
        'monitor "always" when count(scrape.done) >= 0 over 1m',
        [ev("target.scraped", f"00:{m:02d}:00", instance="localhost:9090", up=0) for m in range(11)],
        "00:10:00",
        [("00:00:00", "always", "fired"), ("00:05:00", "down", "fired", "localhost:9090")],
    ),
    "compound conditions in a young window: three-valued and, or, not": (
        'monitor "or" when count(job.done) < 1 or max(ms of job.done) > 500 over 1m\n'
        'monitor "and" when count(job.done) < 3 and avg(ms of job.done) > 100 over 1m\n'
        'monitor "not" when not (count(job.done) >= 2) over 1m',
        [ev("job.done", "00:00:00", ms=600), ev("job.done", "00:00:10", ms=300),
         ev("job.done", "00:00:40", ms=200)],
        "00:02:00",
        [("00:00:00", "or", "fired"), ("00:01:00", "or", "resolved"), ("00:01:00", "and", "fired"),
         ("00:01:10", "not", "fired"), ("00:01:40", "or", "fired"), ("00:01:40", "and", "resolved")],
    ),
    "a key that never reports: by waits for its first event, absence with on expects it": (
        'monitor "by" when rate(order.placed) < 0.5 over 10m by customer\n'
        'monitor "absent" when no order.placed within 10m on customer "acme-42"',
        [ev("order.placed", "00:00:00", customer={"name": "Other", "external_id": "o-1"})],
        "00:15:00",
        [("00:10:00", "absent", "fired", "acme-42"), ("00:10:00", "by", "fired", "o-1")],
    ),
    # --------------------------------------------------------- clauses, scopes
    "on instance matches the name or the id; on customer the external id": (
        'monitor "a" when execution.failed on instance "name-I1"\n'
        'monitor "b" when execution.failed on instance "I2"\n'
        'monitor "c" when execution.failed on customer "acme-42"',
        [ev("execution.failed", "00:00:01"), ev("execution.failed", "00:00:02", instance="I2"),
         ev("execution.failed", "00:00:03", instance="I3",
            customer={"name": "Acme", "external_id": "acme-42"})],
        "00:01:00",
        [("00:00:01", "a", "fired", "I1", "Sync"), ("00:00:02", "b", "fired", "I2", "Sync"),
         ("00:00:03", "c", "fired", "I3", "Sync")],
    ),
    "disabled never fires": (
        'monitor "m" when execution.failed disabled',
        [ev("execution.failed", "00:00:01")], "00:01:00", [],
    ),
    "events caused by a monitor are not fed back to it; depth 3 stops": (
        'monitor "m" when alert.fired\nmonitor "n" when alert.fired',
        [ev("alert.fired", "00:00:01", caused_by={"monitors": ["m"], "depth": 1}),
         ev("alert.fired", "00:00:02", instance="I2", caused_by={"monitors": ["x"], "depth": 3})],
        "00:01:00",
        [("00:00:01", "n", "fired", "I1", "Sync")],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scenario(name: str) -> None:
    text, events, until, expected = CASES[name]
    assert run(G + text, events, until) == expected


ROUTING = {
    'notify group "Ops"': ("email:ana@example.com", "sms:+15550100", "webhook:Hook"),
    'notify group "Ops" via email': ("email:ana@example.com",),
    'notify group "Ops" via sms, email': ("email:ana@example.com", "sms:+15550100"),
    'notify group "Ops" via webhook "Hook"': ("webhook:Hook",),
    'notify email "x@example.com", webhook "Hook"': ("email:x@example.com", "webhook:Hook"),
    'notify group "Ops" via email notify email "ana@example.com"': ("email:ana@example.com",),
}


@pytest.mark.parametrize("clause", list(ROUTING))
def test_targets_resolve_to_concrete_destinations(clause: str) -> None:
    text = G + f'monitor "m" when execution.failed {clause}'
    out = run(text, [ev("execution.failed", "00:00:01")], "00:00:02", targets=True)
    assert out == [("00:00:01", "m", "fired", "I1", "Sync", ROUTING[clause])]


def test_without_resolved_drops_resolved_targets() -> None:
    text = G + ('monitor "m" when count(login.failed) > 0 over 1m '
                'notify email "a@example.com" without resolved notify email "b@example.com"')
    out = run(text, [ev("login.failed", "00:00:00")], "00:02:00", targets=True)
    assert out == [("00:00:00", "m", "fired", ("email:a@example.com", "email:b@example.com")),
                   ("00:01:00", "m", "resolved", ("email:b@example.com",))]


def test_escalation_after_delay_goes_to_its_targets_and_resolution_too() -> None:
    text = G + ('monitor "m" when no execution.completed within 10m on flow "Sync" every 1h '
                'notify email "a@example.com" escalate to email "lead@example.com" after 30m')
    out = run(text, [ev("execution.completed", "01:00:00")], "01:00:01", targets=True)
    assert out == [
        ("00:10:00", "m", "fired", "Sync", ("email:a@example.com",)),
        ("00:40:00", "m", "escalated", "Sync", ("email:lead@example.com",)),
        ("01:00:00", "m", "resolved", "Sync", ("email:a@example.com", "email:lead@example.com")),
    ]


def test_mute_ending_while_firing_sends_the_pending_notification() -> None:
    # Monday 00:00 UTC is 01:00 in Berlin: the schedule holds until 02:00 UTC.
    text = G + ('schedule "maint" { days mon hours 00:00-03:00 timezone "Europe/Berlin" }\n'
                'monitor "m" when execution.failed notify email "a@example.com" mute during "maint"')
    out = run(text, [ev("execution.failed", "00:30:00")], "03:00:00")
    assert out == [("00:30:00", "m", "fired", "I1", "Sync", "muted"),
                   ("02:00:00", "m", "fired", "I1", "Sync")]


def test_mute_ended_after_resolution_sends_nothing() -> None:
    text = G + ('schedule "maint" { hours 00:00-01:00 timezone "UTC" }\n'
                'monitor "m" when execution.failed until execution.completed '
                'notify email "a@example.com" mute during "maint"')
    events = [ev("execution.failed", "00:10:00"), ev("execution.completed", "00:20:00")]
    assert run(text, events, "02:00:00") == [
        ("00:10:00", "m", "fired", "I1", "Sync", "muted"),
        ("00:20:00", "m", "resolved", "I1", "Sync", "muted"),
    ]
