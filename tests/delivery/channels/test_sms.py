"""SMS through a Twilio-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

from delivery.ledger import MemoryLedger
from delivery.request import build_requests
from tests.delivery.support import SECRETS, Destination, alert_event, attempt_once, make_runtime, ruleset


def _request():
    event = alert_event(Destination("sms", "+15550100"))
    (request,) = build_requests(event, ruleset(), public_url="http://tocsin.test")
    return request


def test_form_post_with_basic_auth(receiver):
    receiver.answer((201, {"content-type": "application/json"}, '{"sid": "SM1"}'))
    runtime = make_runtime(sms_url=receiver.url + "/2010-04-01/Accounts/AC/Messages.json",
                           sms_from="+15550199")
    ledger = MemoryLedger()
    request = _request()
    assert attempt_once(request, runtime, ledger=ledger).state == "sent"
    (got,) = receiver.requests
    assert got.path.endswith("/Messages.json")
    form = {k: v[0] for k, v in parse_qs(got.body.decode()).items()}
    assert form == {"To": "+15550100", "From": "+15550199",
                    "Body": "Sync failures: Acme Salesforce Sync failed"}
    user, _, password = base64.b64decode(got.headers["authorization"].split()[1]).decode().partition(":")
    assert (user, password) == (SECRETS["SMS_ACCOUNT_SID"], SECRETS["SMS_AUTH_TOKEN"])
    assert SECRETS["SMS_AUTH_TOKEN"] not in str(ledger.entries) + str(ledger.events)


def test_missing_credentials_fail_at_once(receiver):
    runtime = make_runtime(secrets={}, sms_url=receiver.url)
    outcome = attempt_once(_request(), runtime)
    assert outcome.state == "failed"
    assert "SMS_AUTH_TOKEN" in outcome.attempt["error"]
    assert "SMS_AUTH_TOKEN" in outcome.event["data"]["error"]
    assert receiver.requests == []
