"""Delivery settings flow from the environment through the one `Config` to delivery."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from delivery.channels import registered_kinds
from delivery.settings import DeliverySettings, RetryPolicy
from service.config import Config
from service.delivery_bridge import DeliveryBridge, delivery_settings


def settings_of(monkeypatch: pytest.MonkeyPatch, **env: str) -> DeliverySettings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return delivery_settings(Config(_env_file=None))


def test_defaults_are_delivery_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("TOCSIN_"):
            monkeypatch.delenv(name)
    assert settings_of(monkeypatch) == DeliverySettings()


def test_every_documented_delivery_setting_flows_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_of(
        monkeypatch, TOCSIN_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/", TOCSIN_DELIVERY_QUEUE="q2",
        TOCSIN_DELIVERY_LEASE_SECONDS="45", TOCSIN_DELIVERY_WAKE_GRACE_SECONDS="7", TOCSIN_RECONCILE_SECONDS="0.5",
        TOCSIN_SMTP_URL="smtp://u:p@mail.test:2525", TOCSIN_SMTP_FROM="alerts@example.com",
        TOCSIN_SMS_URL="https://sms.test/Messages.json", TOCSIN_SMS_FROM="+15550100",
        TOCSIN_WEBHOOK_DENY_PRIVATE="1", TOCSIN_DELIVERY_MAX_ATTEMPTS="5", TOCSIN_DELIVERY_RETRY_BASE="2",
        TOCSIN_DELIVERY_MAX_AGE="600", TOCSIN_DELIVERY_SMS_MAX_ATTEMPTS="2", TOCSIN_DELIVERY_EMAIL_MAX_AGE="60")
    assert (settings.broker_url, settings.queue_name) == ("amqp://guest:guest@127.0.0.1:5672/", "q2")
    assert (settings.lease_seconds, settings.wake_grace_seconds, settings.reconcile_seconds) == (45, 7, 0.5)
    assert (settings.smtp_url, settings.smtp_from) == ("smtp://u:p@mail.test:2525", "alerts@example.com")
    assert (settings.sms_url, settings.sms_from) == ("https://sms.test/Messages.json", "+15550100")
    assert settings.deny_private
    general = RetryPolicy(max_attempts=5, base=2.0, max_age=600.0)
    assert settings.retry_for("webhook") == general
    assert settings.retry_for("sms") == RetryPolicy(max_attempts=2, base=2.0, max_age=600.0)
    assert settings.retry_for("email") == RetryPolicy(max_attempts=5, base=2.0, max_age=60.0)


def test_the_redis_url_is_the_broker_when_no_broker_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOCSIN_BROKER_URL", raising=False)
    assert settings_of(monkeypatch, TOCSIN_REDIS_URL="redis://127.0.0.1:6379/0").broker_url == "redis://127.0.0.1:6379/0"


def test_retry_settings_per_kind_cover_every_registered_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {f"TOCSIN_DELIVERY_{k.upper()}_MAX_ATTEMPTS": "2" for k in registered_kinds()}
    settings = settings_of(monkeypatch, **env)
    assert {k: p.max_attempts for k, p in settings.retry_by_kind.items()} == dict.fromkeys(registered_kinds(), 2)


def test_empty_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_of(monkeypatch, TOCSIN_DELIVERY_MAX_ATTEMPTS="", TOCSIN_SMTP_URL="",
                           TOCSIN_DELIVERY_SLACK_MAX_AGE=" ")
    assert settings.retry.max_attempts == 8 and settings.smtp_url is None and "slack" not in settings.retry_by_kind


@pytest.mark.parametrize("name, value", [("TOCSIN_DELIVERY_MAX_ATTEMPTS", "many"),
                                         ("TOCSIN_DELIVERY_LEASE_SECONDS", "0"),
                                         ("TOCSIN_DELIVERY_WEBHOOK_RETRY_BASE", "soon"),
                                         ("TOCSIN_WEBHOOK_DENY_PRIVATE", "perhaps")])
def test_a_malformed_value_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Config(_env_file=None)


def test_the_bridge_takes_its_settings_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_RECONCILE_SECONDS", "3")
    bridge = DeliveryBridge(Config(_env_file=None), db=None, uri="mongodb://unused")  # type: ignore[arg-type]
    assert bridge.settings.reconcile_seconds == 3


def test_tocsin_worker_hands_its_workers_the_configs_delivery_settings(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path) -> None:
    from argparse import Namespace

    from service import serve, worker

    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.setattr(serve, "configure_logging", lambda *args: None)  # this process's logging stays
    for name, value in {"TOCSIN_BROKER_URL": "redis://127.0.0.1:6379/15", "TOCSIN_MONGODB_URI": "mongodb://127.0.0.1:1",
                        "TOCSIN_DELIVERY_QUEUE": "q-worker", "TOCSIN_DELIVERY_PAGERDUTY_MAX_AGE": "90"}.items():
        monkeypatch.setenv(name, value)
    seen = {}

    def run_worker(url, ledger, *, processes, threads, settings):
        seen.update(url=url, processes=processes, threads=threads, settings=settings)
        return 0

    monkeypatch.setattr(worker, "run_worker", run_worker)
    assert worker.worker_command(Namespace(processes=2, threads=3)) == 0
    assert seen["url"] == "redis://127.0.0.1:6379/15" and (seen["processes"], seen["threads"]) == (2, 3)
    settings = seen["settings"]
    assert settings.queue_name == "q-worker" and settings.retry_for("pagerduty").max_age == 90
    assert settings == delivery_settings(Config(_env_file=None))
