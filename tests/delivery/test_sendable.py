"""Small pure pieces that keep data from failing a delivery: header values, strict JSON,
text that encodes, the e-mail subject's single tag."""

from __future__ import annotations

import math

import pytest

from delivery.request import build_requests
from delivery.templates import clean_text, finite_json
from delivery.transport import header_value
from tests.delivery.rendering import Capture
from tests.delivery.support import Destination, alert_event, ruleset


@pytest.mark.parametrize(("value", "sent"), [
    ("plain", b"plain"),
    ("Zoë Müller", "Zoë Müller".encode()),
    ("a\r\nb", b"a  b"),
    ("a\r\n\tb", b"a   b"),
    ("\x00x\x1fy\x7f", b"x y"),
    ("  trimmed\t", b"trimmed"),
    ("lone \ud800", b"lone ?"),
    (b"bytes \xff", "bytes \ufffd".encode()),
])
def test_header_value(value, sent):
    assert header_value(value) == sent


def test_finite_json_replaces_what_strict_json_cannot_hold():
    value = {"a": [1.5, math.inf, {"b": -math.inf}], "c": math.nan, "d": 10**5000, "e": "inf", "f": 7}
    clean, paths = finite_json(value)
    assert clean == {"a": [1.5, None, {"b": None}], "c": None, "d": None, "e": "inf", "f": 7}
    assert paths == ["$.a[1]", "$.a[2].b", "$.c", "$.d"]
    untouched = {"x": [1, 2.5, None, "s"]}
    assert finite_json(untouched) == (untouched, [])


def test_clean_text_keeps_pairs_and_replaces_lone_surrogates():
    assert clean_text("ok \U0001F600") == "ok \U0001F600"
    assert clean_text("a\ud800b\udc00") == "a\ufffdb\ufffd"


@pytest.mark.parametrize(("message", "kind", "subject"), [
    (None, "fired", "[critical] Sync failures: Acme Salesforce Sync, flow Sync, step Fetch orders: "
                    'HTTP 503 from "Salesforce" <b>'),
    ("[critical] already tagged", "fired", "[critical] already tagged"),
    ("not tagged\nsecond line", "fired", "[critical] not tagged"),
    ("\n\n  \nfirst real line", "fired", "[critical] first real line"),
    (None, "resolved", "[resolved] Sync failures: Acme Salesforce Sync, flow Sync, step Fetch orders"),
])
def test_the_email_subject_has_one_tag(message, kind, subject):
    event = alert_event(Destination("email", "ana@example.com"), kind=kind, message=message)
    (request,) = build_requests(event, ruleset(), public_url="http://tocsin.test")
    mail, warnings = Capture.make().email(request)
    assert mail["Subject"] == subject and warnings == []
