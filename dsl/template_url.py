"""W506: a channel's `url` reads a value the event's sender chooses.

Every setting of URL shape (`dsl.channels`) is checked, whatever its key.

Such a value is sent percent-encoded as one URL component (delivery/url_template.py), so
it cannot change the host or climb the path, but it still picks which URL on that host
is called: whoever can post an event can aim the notification. Values from the event
(`event.…`, `alert.event.…`), the alert's key (`alert.key…`, made of event values) and
the `$` variables filled from them are reported; `secrets`, `monitor` and the rest of
`alert` are the rule author's or the service's own.
"""

from __future__ import annotations

from dsl import ast as A
from dsl import catalog as C
from dsl import channels as K
from dsl.diagnostics import Diagnostic, warning
from dsl.template_paths import PathUse, analyse
from dsl.template_spans import text_span

SENDER_DOLLARS = frozenset(C.PRISMATIC_EVENT_FIELDS.values())  # filled from the event
HINT = "send the value in the payload or a header and keep the url fixed (or a `{{ secrets.NAME }}`)"


def url_warnings(files: list[A.RuleFile]) -> list[Diagnostic]:
    """W506 for every channel `url` of the rule files."""
    out: list[Diagnostic] = []
    for rf in files:
        for block in rf.blocks:
            if block.kind not in C.CHANNEL_KINDS:
                continue
            for item in block.items:
                if _is_url(block.kind, item.key) and len(item.values) == 1 and isinstance(item.values[0], A.String):
                    out += _check_url(item.key, item.values[0])
    return out


def _is_url(kind: str, key: str) -> bool:
    setting = K.kinds()[kind].setting(key)
    return setting is not None and setting.shape == K.URL


def _check_url(key: str, s: A.String) -> list[Diagnostic]:
    analysis = analyse(s.value)
    if analysis.problem is not None:
        return []  # a syntax error is reported (E308) where the string is checked
    out = [_warn(key, text_span(s, use.start, use.end(len(use.steps))), use.dotted())
           for use in analysis.paths if _from_sender(use)]
    out += [_warn(key, text_span(s, d.start, d.end), "$" + d.name)
            for d in analysis.dollars if d.name in SENDER_DOLLARS]
    return out


def _from_sender(use: PathUse) -> bool:
    return use.root == "event" or (use.root == "alert" and use.steps[:1] in (("event",), ("key",)))


def _warn(key: str, span: A.Span, path: str) -> Diagnostic:
    return warning(span, "W506", f"`{key}` reads `{path}`, which the event's sender chooses: it is sent "
                   "percent-encoded, so it cannot change the host or climb the path, but it picks which "
                   "URL on that host is called", HINT)
