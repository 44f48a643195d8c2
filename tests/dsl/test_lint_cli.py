"""`tocsin lint` and `tocsin fmt` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main

GOOD = 'slack "ops" { url "https://hooks.example.com/x" }\nwhen execution.failed notify slack "ops"\n'
BAD = 'group "DevOps" { email "ana@example.com" }\nwhen execution.failed notify group "DevOp"\n'


def _write(root: Path, name: str, text: str) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_text_output_is_compiler_style(tmp_path, capsys):
    path = _write(tmp_path, "ops.rules", BAD)
    assert main(["lint", path]) == 1
    out = capsys.readouterr().out
    assert f"{path}:2:36: error E101: unknown group \"DevOp\"\n" in out
    assert '    2 | when execution.failed notify group "DevOp"\n' in out
    assert "      |                                    ^^^^^^^\n" in out
    assert '    hint: did you mean "DevOps"?' in out
    assert out.rstrip().endswith("1 error, 1 warning in 1 file")
    assert out.index(":1:7: warning W501") < out.index(":2:36: error E101")


def test_json_output_has_exactly_the_contract_shape(tmp_path, capsys):
    path = _write(tmp_path, "ops.rules", BAD)
    assert main(["lint", "--format", "json", path]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"ok", "diagnostics"} and doc["ok"] is False
    assert [d["code"] for d in doc["diagnostics"]] == ["W501", "E101"]
    assert doc["diagnostics"][1] == {
        "file": path, "line": 2, "column": 36, "end_line": 2, "end_column": 43, "severity": "error",
        "code": "E101", "message": 'unknown group "DevOp"', "hint": 'did you mean "DevOps"?'}
    assert doc["diagnostics"][0]["severity"] == "warning"


def test_clean_files_exit_zero_and_warnings_do_not_fail(tmp_path, capsys):
    path = _write(tmp_path, "ok.rules", GOOD)
    assert main(["lint", "--format", "json", path]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "diagnostics": []}
    warn = _write(tmp_path, "warn.rules", 'group "G" { email "a@example.com" }\n')
    assert main(["lint", warn]) == 0
    assert capsys.readouterr().out.rstrip().endswith("0 errors, 1 warning in 1 file")


def test_directories_are_searched_recursively_and_resolve_across_files(tmp_path, capsys):
    _write(tmp_path, "rules/b/monitors.rules", 'when execution.failed notify group "DevOps"\n')
    _write(tmp_path, "rules/a/groups.rules", 'group "DevOps" { email "a@example.com" }\n')
    _write(tmp_path, "rules/notes.txt", "not a rule file")
    root = str(tmp_path / "rules")
    assert main(["lint", root]) == 0
    assert "0 errors, 0 warnings in 2 files" in capsys.readouterr().out
    _write(tmp_path, "rules/b/more.rules", 'when execution.started notify group "Ops"\n')
    assert main(["lint", "--format", "json", root]) == 1
    [d] = json.loads(capsys.readouterr().out)["diagnostics"]
    assert d["file"] == str(Path(root) / "b" / "more.rules")


def test_missing_path_is_a_usage_error(tmp_path, capsys):
    assert main(["lint", str(tmp_path / "nope.rules")]) == 2
    captured = capsys.readouterr()
    assert "nope.rules" in captured.err and captured.out == ""
    with pytest.raises(SystemExit) as exit_info:
        main(["lint"])
    assert exit_info.value.code == 2


def test_a_file_that_is_not_utf8_is_an_error(tmp_path, capsys):
    path = tmp_path / "latin1.rules"
    path.write_bytes(b"# caf\xe9\n")
    assert main(["lint", "--format", "json", str(path)]) == 1
    [d] = json.loads(capsys.readouterr().out)["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("E001", 1, 1)


def test_fmt_check_lists_files_and_fmt_rewrites_them(tmp_path, capsys):
    messy = _write(tmp_path, "messy.rules", 'slack "ops" {url "https://hooks.example.com/x"}\n'
                                            'when   execution.failed   notify slack "ops"   # keep me\n')
    tidy = _write(tmp_path, "tidy.rules", "")
    before = Path(messy).read_text()
    assert main(["fmt", "--check", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [messy]
    assert Path(messy).read_text() == before
    assert main(["fmt", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"formatted {messy}"
    after = Path(messy).read_text()
    assert "# keep me" in after and after != before
    assert main(["fmt", "--check", messy, tidy]) == 0
    assert main(["fmt", messy]) == 0
    assert Path(messy).read_text() == after


def test_fmt_refuses_files_with_syntax_errors(tmp_path, capsys):
    broken = _write(tmp_path, "broken.rules", "when execution.failed notify\n")
    assert main(["fmt", broken]) == 1
    err = capsys.readouterr().err
    assert f"{broken}:1:" in err and "E001" in err
    assert Path(broken).read_text() == "when execution.failed notify\n"
    assert main(["fmt", str(tmp_path / "missing.rules")]) == 2


def test_a_directory_without_rule_files_is_a_usage_error(tmp_path, capsys):
    """A mistyped or empty directory must not pass for clean rules (exit 2, not 0)."""
    (tmp_path / "empty").mkdir()
    _write(tmp_path, "other/notes.txt", "not rules")
    for directory in ("empty", "other"):
        assert main(["lint", str(tmp_path / directory)]) == 2
        assert "no rule files" in capsys.readouterr().err
    assert main(["fmt", "--check", str(tmp_path / "empty")]) == 2
