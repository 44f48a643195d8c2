"""The channel-kind registry: every rule-file kind (dsl/channels/) has its sender
(delivery/channels/), and everything that lists kinds reads the registry."""

from __future__ import annotations

import dataclasses

import pytest

from delivery.channels import get_channel, registered_kinds, rule_channel
from delivery.request import DeliveryRequest, channel_config
from delivery.settings import DeliverySettings
from dsl import catalog as C
from dsl import load
from dsl.channels import SHAPES, ChannelKind, Setting, kinds
from dsl.ruleset import RuleSet
from engine.model import Destination

OPERATOR_KINDS = ("email", "sms")  # configured by the operator, not in rule files


def test_every_rule_file_kind_has_a_sender_with_its_config_type():
    assert set(registered_kinds()) == set(kinds()) | set(OPERATOR_KINDS)
    for name, kind in kinds().items():
        assert get_channel(name).config is kind.config


def test_the_catalog_and_the_checker_read_the_registry():
    assert C.CHANNEL_KINDS == tuple(kinds())
    assert set(C.TARGET_KINDS) == {"group", *OPERATOR_KINDS, *kinds()}
    assert set(C.BLOCK_KINDS) == {"group", "schedule", *kinds()}
    for name, kind in kinds().items():
        assert C.SETTINGS[name] == {s.key: s.repeatable for s in kind.settings}
        assert C.REQUIRED_SETTINGS[name] == tuple(s.key for s in kind.settings if s.required)
        assert C.SETTINGS["group"][name] is True


@pytest.mark.parametrize("name", sorted(kinds()))
def test_each_config_type_holds_each_setting_and_defaults_the_rest(name):
    kind = kinds()[name]
    fields = {f.name: f for f in dataclasses.fields(kind.config)}
    assert {"name", "kind", "timeout"} <= set(fields)
    assert fields["kind"].default == name
    for s in kind.settings:
        assert s.shape in SHAPES
        assert s.config_field in fields
        has_default = fields[s.config_field].default is not dataclasses.MISSING
        assert has_default != s.required, f"{name}.{s.key}: required exactly when it has no default"


def test_a_setting_of_an_unknown_shape_is_refused_when_declared():
    with pytest.raises(ValueError, match="unknown shape"):
        Setting("colour", "rgb")
    with pytest.raises(ValueError, match="a secret is one template string"):
        Setting("token", "json", secret=True)


def _ruleset(text: str) -> RuleSet:
    ruleset, diagnostics = load({"t.rules": text})
    assert ruleset is not None, diagnostics
    return ruleset


def test_a_block_goes_through_the_loader_the_request_and_back_unchanged():
    ruleset = _ruleset('''
webhook "hook" {
  url "https://hooks.example.com/x"
  method put
  header "X-A" "{{ monitor.name }}"
  header "X-B" "b"
  timeout 5s
  payload {"a": ["{{ alert.id }}", 1]}
}
monitor "m" when execution.failed notify webhook "hook"
''')
    config = ruleset.channels[("webhook", "hook")]
    assert config.headers == (("X-A", "{{ monitor.name }}"), ("X-B", "b"))
    assert config.method == "PUT" and config.timeout == 5.0
    data = channel_config(ruleset, Destination("webhook", "hook"))
    request = DeliveryRequest(id="d", alert_event_id="ae", document={}, channel=data, group=None,
                              monitor={}, destination={"kind": "webhook", "address": "hook", "group": None})
    assert rule_channel(kinds()["webhook"].config, request) == config


def test_contacts_have_no_rule_file_config():
    assert channel_config(RuleSet(), Destination("email", "ana@example.com")) is None


def test_kind_descriptions_are_values():
    kind = kinds()["pagerduty"]
    assert isinstance(kind, ChannelKind)
    assert kind.setting("routing_key").secret and kind.setting("routing_key").templated
    assert kind.setting("timeout").templated is False
    assert kind.setting("nope") is None
