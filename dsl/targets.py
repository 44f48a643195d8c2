"""Notification targets and `via`: kinds (E204), addresses (E304/E305), `via` rules (E401).

Whether a named group or channel exists is decided across files in `dsl.refs`.
"""

from __future__ import annotations

from dsl import ast as A
from dsl import catalog as C
from dsl.diagnostics import Diagnostic, error
from dsl.suggest import did_you_mean
from dsl.values import check_email, check_phone

_VIA_KINDS = C.CONTACT_KINDS + C.CHANNEL_KINDS


def check_targets(targets: tuple[A.Target, ...]) -> list[Diagnostic]:
    """Kinds and addresses of `notify`/`escalate` targets (names are `refs`' job)."""
    out: list[Diagnostic] = []
    for t in targets:
        if t.kind not in C.TARGET_KINDS:
            hint = did_you_mean(t.kind, C.TARGET_KINDS) or "targets: " + ", ".join(C.TARGET_KINDS)
            out.append(error(t.kind_span, "E204", f"unknown target kind `{t.kind}`", hint))
        elif t.kind == "email":
            out.extend(d for d in [check_email(t.name)] if d)
        elif t.kind == "sms":
            out.extend(d for d in [check_phone(t.name)] if d)
        elif not t.name.value.strip():
            out.append(error(t.name.span, "E108", f"a {t.kind} target needs a name"))
    return out


def check_notify(c: A.NotifyClause) -> list[Diagnostic]:
    """A `notify` clause: its targets, and `via` only after groups and of a known form."""
    out = check_targets(c.targets)
    if not c.via:
        return out
    others = [t for t in c.targets if t.kind != "group"]
    if others:
        first, last = c.via[0].span, c.via[-1].span
        out.append(error(A.Span(first.file, first.line, first.column, last.end_line, last.end_column),
                         "E401", f"`via` applies only to group targets, not to `{others[0].kind}`",
                         "notify the channel directly, e.g. `notify webhook \"X\"`"))
    for v in c.via:
        out.extend(_via(v))
    return out


def _via(v: A.Via) -> list[Diagnostic]:
    if v.kind not in _VIA_KINDS:
        hint = did_you_mean(v.kind, _VIA_KINDS) or "`via` takes email, sms or a channel: `webhook \"X\"`"
        return [error(v.kind_span, "E204", f"unknown `via` kind `{v.kind}`", hint)]
    if v.kind in C.CONTACT_KINDS and v.name is not None:
        return [error(v.span, "E204", f"`via {v.kind}` takes no name: it selects the group's "
                      f"{v.kind} contacts", f"write `via {v.kind}`")]
    if v.kind in C.CHANNEL_KINDS and v.name is None:
        return [error(v.span, "E204", f"`via {v.kind}` needs a channel name",
                      f'write `via {v.kind} "NAME"`')]
    return []
