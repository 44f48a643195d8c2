"""Watch `TOCSIN_RULES_DIR` and reload the rule set when a `*.rules` file changes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from watchfiles import awatch

log = logging.getLogger("tocsin.service")


def _is_rule_file(change: Any, path: str) -> bool:
    return path.endswith(".rules")


async def watch_rules(runtime: Any, *, debounce_ms: int = 200) -> None:
    """Reload on change; a directory that does not exist yet is looked for every few seconds."""
    root = runtime.config.rules_dir
    while not Path(root).is_dir():
        await asyncio.sleep(5)
    async for _changes in awatch(root, watch_filter=_is_rule_file, debounce=debounce_ms, recursive=False):
        try:
            outcome = await runtime.rules.reload_directory()
        except Exception:
            log.exception("reloading %s failed", root)
            continue
        if outcome is None:
            continue
        if outcome.ok:
            log.info("rules reloaded from %s: version %s", root, outcome.version)
            runtime.rules_changed()
        else:
            log.warning("rules in %s have errors; version %s stays active", root, outcome.version)
