"""Watch `TOCSIN_RULES_DIR` and reload the rule set when its `*.rules` files change.

File-system notifications drive it; every `RESCAN_MS` the directory is also compared
with what was last seen, which catches changes made before the watch was in place and
file systems that do not notify (network mounts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from service.rules_store import RulesStore, read_directory

MAX_LOGGED = 20  # diagnostics logged per failed reload; last_reload has them all
log = logging.getLogger("tocsin.service")

RESCAN_MS = 2000


def _is_rule_file(change: Change, path: str) -> bool:
    return path.endswith(".rules")


async def watch_rules(root: str, rules: RulesStore, changed: Callable[[], None], *, debounce_ms: int = 200) -> None:
    """Reload `rules` from the directory `root` on change, and call `changed()` when a new
    version is active; a directory that does not exist yet is looked for every few seconds."""
    while not Path(root).is_dir():
        await asyncio.sleep(RESCAN_MS / 1000)
    seen = rules.active.files
    async for _changes in awatch(root, watch_filter=_is_rule_file, debounce=debounce_ms, recursive=False,
                                 rust_timeout=RESCAN_MS, yield_on_timeout=True):
        files = read_directory(root)
        if files is None or files == seen:
            continue
        seen = files
        await _reload(rules, changed, root)


async def _reload(rules: RulesStore, changed: Callable[[], None], root: str) -> None:
    try:
        outcome = await rules.reload_directory()
    except Exception:
        log.exception("reloading %s failed", root)
        return
    if outcome is None:
        return
    if outcome.ok:
        log.info("rules reloaded from %s: version %s", root, outcome.version)
        changed()
    else:
        errors = [d for d in outcome.diagnostics if d.is_error]
        log.warning("rules in %s have %d error(s); version %s stays active", root, len(errors), outcome.version)
        for d in errors[:MAX_LOGGED]:
            log.warning("%s:%s:%s: %s %s", d.span.file, d.span.line, d.span.column, d.code, d.message)
