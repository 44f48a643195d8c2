"""Secrets from the environment and a secrets file; redaction."""

from __future__ import annotations

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
