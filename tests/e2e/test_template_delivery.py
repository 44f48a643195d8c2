"""Issue 9, end to end: templates fed from event data never stop a notification.

A real `tocsin serve` (embedded database and workers) with a monitor whose `message` is
`{{ event.message }}` and a webhook with `header "X-Customer" "{{ event.customer.name }}"`
gets an `execution.failed` without `message` and one for the customer `Zoë Müller`: both
notifications reach the loopback receiver, the header as UTF-8 bytes (docs/delivery.md §
Channels), the bodies strict JSON, and the ledger records the first one's render warning.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.e2e.ledger_support import FAST
from tests.support.processes import RecordingReceiver, ServiceProcess, new_marker, wait_for

RULES = """\
webhook "hook" {{
  url "{url}"
  timeout 2s
  header "X-Customer" "{{{{ event.customer.name }}}}"
  payload {{ "text": "{{{{ alert.message }}}}", "error": "{{{{ event.message }}}}",
            "instance": "{{{{ event.instance.name }}}}" }}
}}
monitor "Exec failed" when execution.failed
  message "{{{{ event.message }}}}"
  notify webhook "hook"
"""


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def deliveries_by_instance(url: str) -> dict[str, dict[str, Any]]:
    """Each alert's delivery (ledger entry, as `GET /v1/alerts/{id}` shows it) by instance id."""
    found = {}
    with httpx.Client(base_url=url, timeout=10) as http:
        for alert in http.get("/v1/alerts").json()["items"]:
            for alert_event in http.get(f"/v1/alerts/{alert['id']}").json()["alert_events"]:
                for delivery in alert_event["deliveries"]:
                    found[alert["key"]["instance"]] = delivery
    return found


def test_missing_fields_and_non_ascii_data_still_deliver(tmp_path, recording_receiver: RecordingReceiver):
    receiver = recording_receiver
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "main.rules").write_text(RULES.format(url=receiver.url))
    env = {**FAST, "TOCSIN_DATA_DIR": str(tmp_path / "data")}
    no_message, zoe = new_marker(), new_marker()
    events = [
        {"id": f"ev_{no_message}", "type": "execution.failed", "instance": {"id": no_message, "name": no_message},
         "customer": {"name": "Acme"}},
        {"id": f"ev_{zoe}", "type": "execution.failed", "instance": {"id": zoe, "name": zoe},
         "customer": {"name": "Zoë Müller"}, "message": "HTTP 503 from Salesforce"},
    ]
    with ServiceProcess(tmp_path, env, log_dir=tmp_path) as service:
        accepted = httpx.post(f"{service.url}/v1/events", json=events, timeout=10)
        assert accepted.status_code == 202, accepted.text
        wait_for(lambda: {no_message, zoe} <= set(receiver.markers()), timeout=20,
                 message=lambda: f"received {receiver.requests}\n{service.log()[-3000:]}")

        def settled() -> dict[str, dict[str, Any]] | None:
            found = deliveries_by_instance(service.url)
            done = all(found.get(m, {}).get("state") == "sent" for m in (no_message, zoe))
            return found if done else None

        wait_for(settled, timeout=20, message=lambda: f"{deliveries_by_instance(service.url)}")
        ledger = settled()

    by_marker = {m: r for r in receiver.delivered() for m in (no_message, zoe) if m in r.raw.decode()}
    first, second = by_marker[no_message], by_marker[zoe]
    for request in (first, second):
        assert request.headers["Content-Type"] == "application/json"
        json.loads(request.raw, parse_constant=_refuse)  # strict JSON
    # No `message`: the template rendered empty, so the standard text went out instead.
    assert first.body == {"text": f"[error] Exec failed: {no_message}", "error": "", "instance": no_message}
    assert first.headers["X-Customer"] == "Acme"
    # http.server reads header bytes as Latin-1: the raw bytes are the UTF-8 of the name.
    assert second.headers["X-Customer"].encode("latin-1").decode("utf-8") == "Zoë Müller"
    assert second.body == {"text": "HTTP 503 from Salesforce", "error": "HTTP 503 from Salesforce",
                           "instance": zoe}
    assert ledger[no_message]["render_warnings"] == ["message: rendered empty; the standard text was sent"]
    assert not ledger[zoe].get("render_warnings")
    assert [a["outcome"] for a in ledger[no_message]["attempts"]] == ["ok"]
