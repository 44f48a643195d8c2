"""The README's "A first monitor", followed as a new user follows it: every command block
of the section, verbatim, in a fresh copy of the repository's rules, against a real
`tocsin serve` started as `make run` starts it (embedded database in ./.tocsin/data,
rules from ./rules) but on a free port, which the blocks reach through `TOCSIN_URL`.

What stands in for the fresh clone: the tracked files of `rules/` and a `.venv/bin/tocsin`
that runs this checkout's code with this interpreter. Before each block the test waits,
with a deadline, for what a person waits for without noticing: the service has loaded
the rules directory as it now is, and has evaluated every event it accepted.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from service.rules_store import read_directory, sha256
from tests.support.processes import REPO_ROOT, ServiceProcess, child_env, wait_for

SECTION = "## A first monitor"
SETTLE_SECONDS = 30


def walkthrough() -> list[tuple[str, str]]:
    """(language, text) of each fenced block in the README's first-monitor section."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in readme
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```(\w*)\n(.*?)^```", section, flags=re.S | re.M)


def fresh_clone(root: Path) -> Path:
    """The repository's tracked rule files and a `.venv/bin/tocsin` in `root`."""
    tracked = subprocess.run(["git", "ls-files", "-z", "--", "rules"], cwd=REPO_ROOT, check=True,
                             capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, tracked):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / name, root / name)
    script = root / ".venv" / "bin" / "tocsin"
    script.parent.mkdir(parents=True)
    script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m service.cli "$@"\n')
    script.chmod(0o755)
    return root


def settled(service: ServiceProcess, rules_dir: Path) -> bool:
    """The directory's files are the active rule set, and every accepted event is evaluated."""
    active = httpx.get(f"{service.url}/v1/rules", timeout=5).json()
    files = {f["name"]: f["sha256"] for f in active["files"]}
    if files != {name: sha256(text) for name, text in (read_directory(str(rules_dir)) or {}).items()}:
        return False
    counters = dict(re.findall(r"^(tocsin_events_(?:accepted|evaluated)_total) (\S+)$",
                               httpx.get(f"{service.url}/metrics", timeout=5).text, flags=re.M))
    return float(counters.get("tocsin_events_evaluated_total", 0)) >= float(
        counters.get("tocsin_events_accepted_total", 0))


def test_the_section_is_shell_commands():
    blocks = walkthrough()
    assert [lang for lang, _ in blocks] == ["sh"] * len(blocks) and len(blocks) >= 4
    assert any("curl" in text for _, text in blocks) and any("tocsin alerts ack" in text for _, text in blocks)


def test_the_first_monitor_walkthrough_runs_verbatim(tmp_path):
    clone = fresh_clone(tmp_path / "tocsin")
    outputs = []
    with ServiceProcess(clone, {}, log_dir=tmp_path) as service:
        env = child_env({"TOCSIN_URL": service.url})

        def log() -> str:
            rules = httpx.get(f"{service.url}/v1/rules", timeout=5).json().get("last_reload")
            return f"last_reload: {rules}\nservice log:\n{service.log()[-4000:]}"

        for _, block in walkthrough():
            wait_for(lambda: settled(service, clone / "rules"), timeout=SETTLE_SECONDS, message=log)
            run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=clone, env=env,
                                 capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, f"{block}\nexit {run.returncode}\n{run.stdout}\n{run.stderr}\n{log()}"
            outputs.append(run.stdout)
        wait_for(lambda: settled(service, clone / "rules"), timeout=SETTLE_SECONDS, message=log)
        [alert_id] = set(re.findall(r"tocsin alerts ack (\S+)", "".join(text for _, text in walkthrough())))
        alert = httpx.get(f"{service.url}/v1/alerts/{alert_id}", timeout=5).json()
    text = "\n".join(outputs)
    assert "0 errors, 0 warnings" in text  # tocsin lint rules/
    assert re.search(r"fired +Sync failed .* critical +-> email:ana@example.com", text)  # tocsin test
    assert f"acknowledged {alert_id} (Sync failed, flow=Sync instance=Acme, firing)" in text
    assert f"cleared {alert_id} (Sync failed, flow=Sync instance=Acme, resolved)" in text
    assert (alert["monitor"], alert["status"], alert["acknowledged"]) == ("Sync failed", "resolved", True)
    assert [e["kind"] for e in alert["alert_events"]] == ["fired", "resolved"]
