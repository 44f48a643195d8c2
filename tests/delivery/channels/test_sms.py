"""SMS through a Twilio-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

from delivery.log import MemoryDeliveryLog
from delivery.pipeline import run_attempt
from delivery.request import build_requests
from tests.delivery.support import SECRETS, Destination, alert_event, make_runtime, ruleset


def _request():
    event = alert_event(Destination("sms", "+15550100"))
    (request,) = build_requests(event, ruleset(), public_url="http://tocsin.test")
    return request


def test_form_post_with_basic_auth(receiver):
    receiver.answer((201, {"content-type": "application/json"}, '{"sid": "SM1"}'))
    runtime = make_runtime(sms_url=receiver.url + "/2010-04-01/Accounts/AC/Messages.json",
                           sms_from="+15550199")
    log = MemoryDeliveryLog()
    request = _request()
    assert run_attempt(request, runtime, log).final_status == "sent"
    (got,) = receiver.requests
    assert got.path.endswith("/Messages.json")
    form = {k: v[0] for k, v in parse_qs(got.body.decode()).items()}
    assert form == {"To": "+15550100", "From": "+15550199",
                    "Body": "Sync failures: Acme Salesforce Sync failed"}
    user, _, password = base64.b64decode(got.headers["authorization"].split()[1]).decode().partition(":")
    assert (user, password) == (SECRETS["SMS_ACCOUNT_SID"], SECRETS["SMS_AUTH_TOKEN"])
    assert SECRETS["SMS_AUTH_TOKEN"] not in str(log.attempts) + str(log.outcomes)


def test_missing_credentials_fail_at_once(receiver):
    runtime = make_runtime(secrets={}, sms_url=receiver.url)
    log = MemoryDeliveryLog()
    step = run_attempt(_request(), runtime, log)
    assert step.final_status == "failed"
    assert "SMS_AUTH_TOKEN" in next(iter(log.outcomes.values()))["error"]
    assert receiver.requests == []
