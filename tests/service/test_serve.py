"""`tocsin serve`'s start-up report (service/serve.py): a rules directory that is missing
or empty, and rules with errors, are said loudly, on the terminal and in the log."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import dsl
from service.config import Config
from service.rules_store import Outcome
from service.serve import report_startup, rules_dir_warning, startup_report


def app_with(rules_dir: str, *, files: dict[str, str] | None = None, outcome: Outcome | None = None) -> SimpleNamespace:
    ruleset = dsl.load(files)[0] if files else None
    active = SimpleNamespace(version=1 if files else 0, files=files or {}, ruleset=ruleset)
    config = Config(_env_file=None, rules_dir=rules_dir, api_keys="k:admin")
    process = SimpleNamespace(rules=SimpleNamespace(active=active), startup_reload=outcome)
    return SimpleNamespace(ctx=SimpleNamespace(config=config, process=process))


def test_a_missing_or_empty_directory_is_warned_of(tmp_path):
    missing = rules_dir_warning(str(tmp_path / "rulez"), 0)
    assert missing is not None and f"{tmp_path / 'rulez'} does not exist" in missing
    assert "TOCSIN_RULES_DIR" in missing
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "notes.txt").write_text("not a rule file")
    empty = rules_dir_warning(str(tmp_path / "rules"), 0)
    assert empty is not None and "has no *.rules file" in empty
    (tmp_path / "rules" / "a.rules").write_text('monitor "m" when execution.failed notify email "a@example.com"\n')
    assert rules_dir_warning(str(tmp_path / "rules"), 1) is None
    assert rules_dir_warning("", 0) is None  # no directory configured: rules through the API


def test_the_warning_is_printed_and_logged(tmp_path, capsys, caplog):
    caplog.set_level(logging.WARNING, logger="tocsin.service")
    report_startup(app_with(str(tmp_path / "nowhere")))
    printed = capsys.readouterr().out.splitlines()
    assert printed[3].startswith("rules: version 0, 0 file(s), 0 monitor(s)")
    assert printed[4].startswith(f"WARNING: the rules directory {tmp_path / 'nowhere'} does not exist: 0 monitor(s)")
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.getMessage() == printed[4].removeprefix("WARNING: ")


def test_rules_with_errors_are_logged_with_their_places(tmp_path, capsys, caplog):
    caplog.set_level(logging.WARNING, logger="tocsin.service")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.rules").write_text("monitor")
    _, diagnostics = dsl.load({"a.rules": 'monitor "m" when execution.failed notify group "Nobody"\n'})
    report_startup(app_with(str(tmp_path / "rules"), outcome=Outcome(False, 0, diagnostics)))
    logged = [r.getMessage() for r in caplog.records]
    assert logged[0].startswith("rules in ") and "1 error(s); version 0 stays active" in logged[0]
    assert logged[1].startswith("a.rules:1:") and " E1" in logged[1]
    assert "WARNING: rules in" in capsys.readouterr().out


def test_a_loaded_directory_warns_of_nothing(tmp_path):
    (tmp_path / "rules").mkdir()
    text = 'monitor "m" when execution.failed notify email "a@example.com"\n'
    (tmp_path / "rules" / "a.rules").write_text(text)
    lines = startup_report(app_with(str(tmp_path / "rules"), files={"a.rules": text}))
    assert not [line for line in lines if line.startswith("WARNING")]
    assert "1 monitor(s)" in lines[3]
