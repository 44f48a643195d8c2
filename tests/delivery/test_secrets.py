"""Secrets from the environment and a secrets file; redaction."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from delivery.secrets import REDACTED, Secrets


def test_environment_wins_over_file(tmp_path):
    path = tmp_path / "secrets.env"
    path.write_text("# comment\nPD_TOKEN=from-file\nexport OTHER='quoted value'\nTOCSIN_SECRET_X=x1\n")
    secrets = Secrets.from_env({"TOCSIN_SECRETS_FILE": str(path), "TOCSIN_SECRET_PD_TOKEN": "from-env"})
    assert secrets.get("PD_TOKEN") == "from-env"
    assert secrets.get("OTHER") == "quoted value"
    assert secrets.get("X") == "x1"
    assert secrets.get("MISSING") is None


def test_json_secrets_file(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text('{"HOOK_KEY": "whsec_abc", "N": 5}')
    secrets = Secrets.from_env({"TOCSIN_SECRETS_FILE": str(path)})
    assert secrets.get("HOOK_KEY") == "whsec_abc" and secrets.get("N") == "5"


def test_redact_values_and_url_passwords():
    secrets = Secrets.from_env({"TOCSIN_SECRET_A": "abc123secret", "TOCSIN_SECRET_B": "abc123secretlonger",
                                "TOCSIN_SMTP_URL": "smtp://user:p%40ss@mail:25"})
    text = "a=abc123secret b=abc123secretlonger url=https://u:hunter2@x.test/ smtp p@ss"
    out = secrets.redact(text)
    assert "abc123secret" not in out and "hunter2" not in out and "p@ss" not in out
    assert out.count(REDACTED) == 4
    assert secrets.redact(None) is None


# -- issue 9: derived forms, redaction before truncation, template errors ----------------

import base64  # noqa: E402
import json  # noqa: E402
from urllib.parse import quote, quote_plus  # noqa: E402

import pytest  # noqa: E402

from delivery.ledger import Claim  # noqa: E402
from delivery.pipeline import attempt  # noqa: E402
from tests.delivery.support import WebhookChannel, make_runtime, one_request  # noqa: E402

SID, TOKEN = "AC8f3a9c0d1e2b4f6a", "tok_9fQx2LmZp7RtYw3Kd8Hs"  # the token: 23 characters


def _secrets() -> Secrets:
    return Secrets({"SID": SID, "TOKEN": TOKEN, "ODD": 'p@ss w/rd+"q\\é'})


@pytest.mark.parametrize("form", [
    base64.b64encode(f"{SID}:{TOKEN}".encode()).decode(),
    base64.b64encode(f"someone:{TOKEN}".encode()).decode(),
    base64.b64encode(f"ab:{TOKEN}".encode()).decode(),
    base64.urlsafe_b64encode(f"x:{TOKEN}".encode()).decode().rstrip("="),
    base64.b64encode(TOKEN.encode()).decode(),
    quote(TOKEN + "/é", safe=""),
    quote_plus('p@ss w/rd+"q\\é'),
    quote('p@ss w/rd+"q\\é', safe=""),
    json.dumps('p@ss w/rd+"q\\é')[1:-1],
    json.dumps('p@ss w/rd+"q\\é', ensure_ascii=False)[1:-1],
])
def test_derived_forms_are_redacted(form):
    for text in (f"echo: {form} end", f'{{"echo":"{form}"}}', f"<b>{form}</b>"):
        out = _secrets().redact(text)
        assert form not in out and REDACTED in out, out
        assert TOKEN not in out and TOKEN[:12] not in out


def test_an_echoed_basic_authorization_header_is_redacted():
    basic = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    out = _secrets().redact(f"HTTP 500: bad request; headers: {{'Authorization': 'Basic {basic}'}}")
    assert basic not in out and basic[:20] not in out
    assert Secrets({}).redact("authorization: Bearer abc.def.ghi") == f"authorization: Bearer {REDACTED}"
    # Opsgenie's scheme, with a key written in plain text (not known as a secret's value)
    assert Secrets({}).redact('{"Authorization": "GenieKey 0c1d-ef"}') == f'{{"Authorization": "GenieKey {REDACTED}"}}'


def test_ordinary_text_is_left_alone():
    text = "HTTP 503: upstream Zm9vYmFyYmF6 busy, see https://status.example.com/a?b=c"
    assert _secrets().redact(text) == text


def test_redact_then_cut():
    text = "x" * 190 + " " + TOKEN + " tail"
    out = _secrets().redact(text, limit=200)
    assert TOKEN[:5] not in out and len(out) <= 201


def test_a_500_that_echoes_the_secrets_is_stored_redacted(receiver):
    """The receiver answers 500 with Authorization echoed, the token past character 190."""
    basic = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    body = ("e" * 185) + f" {TOKEN} and Authorization: Basic {basic} and " + quote(TOKEN)
    receiver.answer((500, {}, body))
    channel = WebhookChannel("ops", url=receiver.url, headers=(("Authorization", "Basic " + basic),))
    request = one_request(channel)
    runtime = make_runtime({"SID": SID, "TOKEN": TOKEN})
    claim = Claim(request, "w", 1, None, datetime.now(timezone.utc) + timedelta(seconds=60))
    outcome = attempt(claim, runtime)
    error = outcome.attempt["error"]
    assert error.startswith("HTTP 500")
    for i in range(len(TOKEN) - 5):
        assert TOKEN[i:i + 6] not in error, error
    assert basic[:16] not in error


def test_a_template_error_never_carries_a_slice_of_a_secret(receiver):
    channel = WebhookChannel("ops", url=receiver.url, payload={"a": "{{ secrets[secrets.TOKEN[1:]] }}"})
    request = one_request(channel, message="{{ secrets[secrets.TOKEN[1:]] }} {{ {}[secrets.TOKEN[1:]] }}")
    runtime = make_runtime({"TOKEN": TOKEN})
    claim = Claim(request, "w", 1, None, datetime.now(timezone.utc) + timedelta(seconds=60))
    outcome = attempt(claim, runtime)
    stored = json.dumps([outcome.attempt, list(outcome.render_warnings), outcome.event], default=str)
    for i in range(len(TOKEN) - 3):
        assert TOKEN[i:i + 4] not in stored, stored
