"""The HTTP edge (issue 12): deep nesting, cursors, event times, the auth scheme.

Each case is one a hand-written catalogue found answered 500, or accepted wrongly; each
must now be a 4xx problem with a message (and `errors[]` for a 422).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from service.auth import bearer_token, scope_of
from service.config import ApiKey
from service.json_body import NotJson, loads
from tests.service.conftest import make_config
from tests.service.server import running

PROBLEM = "application/problem+json"
DEEP = 1_000  # levels: past Python's recursion limit in json.loads


def nested(levels: int, inner: str = "1") -> str:
    """JSON text of `levels` arrays around `inner`."""
    return "[" * levels + inner + "]" * levels


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# -- 1. JSON bodies nested ~1,000 levels ----------------------------------------------

EVENT_BODIES = {
    "the whole body": nested(DEEP),
    "data": '{"id": "a", "type": "a.b", "data": {"x": %s}}' % nested(DEEP),
    "a top-level field": '{"id": "a", "type": "a.b", "source": %s}' % nested(DEEP),
    "a batch item": '[{"id": "a", "type": "a.b"}, %s]' % nested(DEEP),
    "an object key's value": '{"id": "a", "type": "a.b", "data": %s}' % ('{"k":' * DEEP + "1" + "}" * DEEP),
    "far past the limit": nested(100_000),
}


async def test_events_nested_too_deeply_anywhere_are_400(client, app):
    for media in ("application/json", "application/cloudevents+json", "application/cloudevents-batch+json"):
        for where, body in EVENT_BODIES.items():
            r = await client.post("/v1/events", content=body, headers={"content-type": media})
            assert r.status_code == 400, (media, where, r.text)
            assert r.headers["content-type"] == PROBLEM
            assert "nested too deeply" in r.json()["detail"]
    assert await app.ctx.db.events.count_documents({}) == 0


async def test_events_nested_just_below_the_parsers_limit_are_4xx(client, app):
    """Nesting the parser still reads (~900 levels) is validation's business: a 422 at the
    field, never a 500 from something recursive later."""
    for body, path in (('{"id": "a", "type": "a.b", "data": {"x": %s}}' % nested(900), "/data"),
                       ('{"id": "a", "type": "a.b", "source": %s}' % nested(900), "/source"),
                       ('{"id": "a", "type": "a.b", "execution": {"id": %s}}' % nested(900), "/execution/id")):
        r = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert [e["path"] for e in r.json()["errors"]] == [path]


async def test_every_json_route_answers_deep_nesting_with_a_400(client):
    for path in ("/v1/rules/lint", "/v1/rules/validate", "/v1/silences", "/v1/test", "/v1/backtest",
                 "/v1/alerts/x/acknowledge", "/v1/alerts/x/clear"):
        r = await client.post(path, content='{"a": %s}' % nested(DEEP), headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert "nested too deeply" in r.json()["detail"], path


async def test_events_keep_reporting_nan_and_surrogates_with_their_path(client):
    """The shared parser lets the events route point at such values itself (422)."""
    for body, path in (('{"id": "a", "type": "a.b", "data": {"x": NaN}}', "/data/x"),
                       ('{"id": "a", "type": "a.b", "message": "\\ud800"}', "/message")):
        r = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert [e["path"] for e in r.json()["errors"]] == [path]


def test_the_one_parser_names_each_reason():
    with pytest.raises(NotJson, match="nested too deeply"):
        loads(nested(DEEP))
    with pytest.raises(NotJson, match="NaN is not JSON"):
        loads(b'{"x": NaN}')
    with pytest.raises(NotJson, match="unpaired surrogate"):
        loads(b'{"x": "\\ud800"}')
    with pytest.raises(NotJson, match="unpaired surrogate"):
        loads(b'{"x": "\xed\xa0\x80"}')  # the raw bytes of one, which json.loads lets through
    with pytest.raises(NotJson, match="not UTF-8"):
        loads(b'{"x": "\xff"}')
    assert loads(b'{"x": "Zo\xc3\xab \\u00eb \\ud83d\\ude00"}') == {"x": "Zoë ë 😀"}


# -- 2. Cursors ----------------------------------------------------------------------

BAD_CURSORS = {
    "deeply nested JSON": cursor_of(nested(DEEP)),
    "nested twice the limit": cursor_of(nested(2 * DEEP)),  # (a longer one is a 413 header)
    "not base64": "!!!",
    "base64 of no JSON": cursor_of("{nope"),
    "NaN": cursor_of("NaN"),
    "not ASCII": "é",
}


CURSOR_ERRORS = [{"index": 0, "path": "cursor", "message": "not a cursor of this list"}]
LISTS = ("/v1/alerts", "/v1/silences", "/v1/monitors", "/v1/alerts/al-1/context")


async def test_malformed_cursors_are_422_naming_the_cursor(client, app):
    await app.ctx.db.alerts.insert_one({"_id": "al-1", "key": {}, "sort_at": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    for path in LISTS:
        for name, cursor in BAD_CURSORS.items():
            r = await client.get(path, params={"cursor": cursor})
            assert r.status_code == 422, (path, name, r.text)
            assert r.headers["content-type"] == PROBLEM
            body = r.json()
            assert body["detail"].startswith("invalid cursor")
            assert body["errors"] == CURSOR_ERRORS, (path, name)


WRONG_SHAPES = [
    ("/v1/alerts", ["0001-01-01T00:00:00+01:00", "x"]),  # a time that overflows in UTC
    ("/v1/alerts", ["not a time", "x"]),
    ("/v1/alerts", 5),
    ("/v1/silences", 5),
    ("/v1/monitors", -1),
    ("/v1/monitors", True),
    ("/v1/monitors", "3"),
    ("/v1/alerts/al-1/context", 2**64),  # an int BSON cannot hold
    ("/v1/alerts/al-1/context", "3"),
]


async def test_cursors_of_the_wrong_shape_are_422_naming_the_cursor(client, app):
    await app.ctx.db.alerts.insert_one({"_id": "al-1", "key": {}, "sort_at": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    for path, value in WRONG_SHAPES:
        r = await client.get(path, params={"cursor": cursor_of(json.dumps(value))})
        assert r.status_code == 422, (path, value, r.text)
        assert r.json()["errors"] == CURSOR_ERRORS


async def test_the_cursors_the_lists_hand_out_still_work(client, app):
    for i in range(3):
        await app.ctx.db.alerts.insert_one({"_id": f"al-{i}", "id": f"al-{i}", "key": {}, "status": "firing",
                                            "sort_at": datetime(2026, 1, 1, i, tzinfo=timezone.utc)})
    first = (await client.get("/v1/alerts", params={"limit": 2})).json()
    second = (await client.get("/v1/alerts", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [a["id"] for a in first["items"] + second["items"]] == ["al-2", "al-1", "al-0"]
    assert second["next_cursor"] is None


async def test_a_bad_limit_names_the_limit(client):
    r = await client.get("/v1/alerts", params={"limit": "0"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"index": 0, "path": "limit", "message": "out of range"}]


# -- 3. Event times are RFC 3339 text ------------------------------------------------

NOT_RFC_3339 = [1700000000, 1700000000.5, "1700000000", True, "2026-01-02T03:04Z",
                "2026-01-02T03:04:05+0100", "2026-01-02T03:04:05", "2026-01-02", "20260102T030405Z"]


async def test_event_times_that_are_not_rfc_3339_are_422_at_their_path(client, app):
    for value in NOT_RFC_3339:
        for body, path in (({"id": "a", "type": "a.b", "time": value}, "/time"),
                           ([{"id": "a", "type": "a.b"}, {"id": "b", "type": "a.b", "time": value}], "/1/time"),
                           ({"id": "a", "type": "a.b", "execution": {"started_at": value}}, "/execution/started_at")):
            r = await client.post("/v1/events", json=body)
            assert r.status_code == 422, (value, r.text)
            errors = r.json()["errors"]
            assert [e["path"] for e in errors] == [path], value
            assert "RFC 3339" in errors[0]["message"]
    assert await app.ctx.db.events.count_documents({}) == 0


async def test_cloudevent_time_must_be_rfc_3339_too(client):
    ce = {"specversion": "1.0", "id": "ce-1", "type": "a.b", "source": "s", "time": 1700000000}
    r = await client.post("/v1/events", content=json.dumps(ce), headers={"content-type": "application/cloudevents+json"})
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["/time"]


RFC_3339 = [
    ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z"),
    ("2026-01-02t03:04:05z", "2026-01-02T03:04:05.000Z"),
    ("2026-01-02 03:04:05+01:00", "2026-01-02T02:04:05.000Z"),  # RFC 3339 § 5.6 allows the space
    ("2026-01-02T03:04:05.123456789-00:30", "2026-01-02T03:34:05.123Z"),
]


async def test_rfc_3339_times_are_accepted_and_stored_in_utc(client, app):
    for i, (value, stored) in enumerate(RFC_3339):
        r = await client.post("/v1/events", json={"id": f"e{i}", "type": "a.b", "time": value,
                                                  "execution": {"started_at": value}})
        assert r.status_code == 202, r.text
        doc = await app.ctx.db.events.find_one({"_id": f"e{i}"})
        assert doc["event"]["time"] == stored, value


# -- 4. The Bearer scheme is case-insensitive ---------------------------------------

@pytest.fixture
async def keyed(mongo_uri, tmp_path):
    from service.app import create_app

    app = create_app(make_config(mongo_uri, tmp_path, api_keys="adm-secret:admin,ing-secret:ingest"))
    async with running(app) as client:
        yield client


async def test_bearer_scheme_in_any_case(keyed):
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        r = await keyed.get("/v1/alerts", headers={"authorization": f"{scheme} adm-secret"})
        assert r.status_code == 200, (scheme, r.text)
        r = await keyed.get("/v1/alerts", headers={"authorization": f"{scheme}  ing-secret"})
        assert r.status_code == 403, scheme
    for header in ("Bearer", "Basic adm-secret", "Bearerx adm-secret", "adm-secret",
                   "Bearer ADM-SECRET", "Bearer adm-secret2"):
        r = await keyed.get("/v1/alerts", headers={"authorization": header})
        assert r.status_code == 401, header


def test_bearer_token_parsing():
    keys = (ApiKey("k1", "admin"),)
    assert bearer_token("bearer   k1  ") == "k1"  # RFC 9110: 1*SP after the scheme
    assert bearer_token("BEARER k1") == "k1"
    assert bearer_token("Token k1") is None
    assert bearer_token(None) is None
    assert scope_of("BeArEr k1", keys) == "admin"
    assert scope_of("Bearer K1", keys) is None  # the key itself is exact
