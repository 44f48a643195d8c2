"""The service's durations (settings, query values, silences) are the language's."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from dsl.literals import DURATION_PATTERN
from dsl.literals import parse_duration as language_seconds
from service.config import Config, parse_duration

GRAMMAR = Path(__file__).resolve().parents[2] / "dsl" / "grammar.lark"


@pytest.mark.parametrize("text, seconds", [("30d", 30 * 86400), ("1h30m", 5400), ("250ms", 0.25),
                                           ("1.5h", 5400), (" 5m ", 300)])
def test_settings_durations_are_language_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert parse_duration(text).total_seconds() == language_seconds(text.strip())


@pytest.mark.parametrize("text", ["", "90", "1w", "d", "5 m", "1e3s", "-5m", "9" * 5000 + "d", "36600d1d"])
def test_other_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_setting_refuses_a_duration_the_language_would_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_RETENTION", "2w")
    with pytest.raises(ValueError, match="retention"):
        Config(_env_file=None)
    monkeypatch.setenv("TOCSIN_RETENTION", "12h30m")
    assert Config(_env_file=None).retention_delta == timedelta(hours=12, minutes=30)


@pytest.mark.parametrize("text", ["5m", "1h30m", "250ms", "1.5d", "2d3h4m5s6ms", "5", "5w", "m5", "5mm", "1.h"])
def test_the_pattern_is_the_grammars_duration_token(text: str) -> None:
    terminal = re.search(r"^DURATION\.\d+: /(.*)/$", GRAMMAR.read_text(), re.M)
    assert terminal is not None
    grammar = re.compile(terminal.group(1).replace("(?![A-Za-z0-9_])", ""))
    assert bool(grammar.fullmatch(text)) == bool(re.fullmatch(DURATION_PATTERN, text))
