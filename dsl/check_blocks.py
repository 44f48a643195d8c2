"""Channel, group and schedule blocks: kinds, settings and their values.

Per block: unknown kind (E105), unknown setting (E106), missing required setting
(E107), invalid value (E108, or the specific E303/E304/E305/E307/E309), template
syntax in the strings a channel renders (E308; `template_strings` names them), and a
secret setting that does not come from `{{ secrets.… }}` (W507). What
those templates read is checked across files, with the monitors that use each channel
known (`dsl.template_check`), and so are names (`dsl.refs`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dsl import ast as A
from dsl import catalog as C
from dsl import channels as K
from dsl.diagnostics import Diagnostic, error, warning
from dsl.suggest import did_you_mean
from dsl.template_paths import analyse
from dsl.templates import check_template, json_strings
from dsl.values import check_email, check_phone, check_timezone, check_url, parse_days

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

Validator = Callable[[A.BlockItem], list[Diagnostic]]


def check_block(block: A.Block) -> list[Diagnostic]:
    """Every problem of one block, in source order."""
    if block.kind not in C.BLOCK_KINDS:
        hint = did_you_mean(block.kind, C.BLOCK_KINDS + ("monitor",)) or \
            "declarations are " + ", ".join(C.BLOCK_KINDS) + " and monitors (`when …`)"
        return [error(block.kind_span, "E105", f"unknown declaration `{block.kind}`", hint)]
    out: list[Diagnostic] = []
    if not block.name.value.strip():
        out.append(error(block.name.span, "E108", f"a {block.kind} needs a non-empty name"))
    settings = C.SETTINGS[block.kind]
    seen: set[str] = set()
    for item in block.items:
        if item.key not in settings:
            hint = did_you_mean(item.key, settings) or f"{block.kind} settings: " + ", ".join(settings)
            out.append(error(item.key_span, "E106", f"unknown setting `{item.key}` in {block.kind} "
                             f'"{block.name.value}"', hint))
            continue
        if item.key in seen and not settings[item.key]:
            out.append(error(item.key_span, "E108", f"`{item.key}` is set more than once",
                             "keep one of them"))
            continue
        seen.add(item.key)
        problems = _validator(block.kind, item.key)(item)
        out.extend(problems)
        if not problems:
            out.extend(_secret_in_rules(block.kind, item))
    for key in C.REQUIRED_SETTINGS.get(block.kind, ()):
        if key not in seen:
            out.append(error(block.name.span, "E107", f'{block.kind} "{block.name.value}" has no `{key}`',
                             f"add `{key} \"…\"` to the block"))
    return out


# ---------------------------------------------------------------- value shapes


def _one(item: A.BlockItem, kind: type, what: str) -> tuple[object | None, list[Diagnostic]]:
    if len(item.values) == 1 and isinstance(item.values[0], kind):
        return item.values[0], []
    return None, [error(_values_span(item), "E108", f"`{item.key}` takes {what}")]


def _values_span(item: A.BlockItem) -> A.Span:
    if not item.values:
        return item.span
    first, last = item.values[0].span, item.values[-1].span
    return A.Span(first.file, first.line, first.column, last.end_line, last.end_column)


def _strings(item: A.BlockItem, what: str) -> tuple[list[A.String], list[Diagnostic]]:
    bad = [v for v in item.values if not isinstance(v, A.String)]
    if bad:
        return [], [error(bad[0].span, "E108", f"`{item.key}` takes {what}")]
    return list(item.values), []


# ---------------------------------------------------------------- validators


def _url(item: A.BlockItem) -> list[Diagnostic]:
    value, out = _one(item, A.String, 'one URL string, e.g. `url "https://…"`')
    if value is None:
        return out
    problem = check_url(value)
    return [problem] if problem else check_template(value)


def _template_string(item: A.BlockItem) -> list[Diagnostic]:
    value, out = _one(item, A.String, "one string")
    return out if value is None else check_template(value)


def template_strings(kind: str, item: A.BlockItem) -> list[A.String]:
    """The strings of a channel setting that are rendered at send time (its shape is
    templated, `dsl.channels`): the one string of a `url` or template setting, a header's
    value (not its name), every string leaf of a JSON setting. Other settings, and
    values of the wrong shape, have none."""
    setting = _setting(kind, item.key)
    values = item.values
    if setting is None or not setting.templated:
        return []
    if setting.shape in (K.URL, K.TEMPLATE) and len(values) == 1 and isinstance(values[0], A.String):
        return [values[0]]
    if setting.shape == K.HEADER and len(values) == 2 and all(isinstance(v, A.String) for v in values):
        return [values[1]]
    if setting.shape in (K.JSON, K.JSON_ARRAY) and len(values) == 1:
        return json_strings(values[0])
    return []


def _secret_in_rules(kind: str, item: A.BlockItem) -> list[Diagnostic]:
    """W507: a secret setting (`dsl.channels`) whose value reads no `secrets`: the rules
    are stored and shown as written, so the credential would be too."""
    setting = _setting(kind, item.key)
    if setting is None or not setting.secret:
        return []
    out = []
    for s in template_strings(kind, item):
        analysis = analyse(s.value)
        if analysis.problem is None and not any(use.root == "secrets" for use in analysis.paths):
            out.append(warning(s.span, "W507", f"`{item.key}` is a credential written into the rules: rule "
                               "files are stored and shown as written (the API, the console, version control)",
                               f'write `{item.key} "{{{{ secrets.NAME }}}}"` and set TOCSIN_SECRET_NAME'))
    return out


def _setting(kind: str, key: str) -> K.Setting | None:
    channel = K.channel_kind(kind)
    return channel.setting(key) if channel is not None else None


def _validator(kind: str, key: str) -> Validator:
    """A channel setting's by its shape; a group's or schedule's by its key."""
    setting = _setting(kind, key)
    if setting is not None:
        return _SHAPE_VALIDATORS[setting.shape]
    if kind == "group" and key in C.CHANNEL_KINDS:
        return _member_channels
    return _VALIDATORS[key]


def _method(item: A.BlockItem) -> list[Diagnostic]:
    if len(item.values) == 1 and isinstance(item.values[0], (A.Word, A.String)):
        word = item.values[0]
        if word.value.upper() in C.HTTP_METHODS:
            return []
        hint = did_you_mean(word.value.upper(), C.HTTP_METHODS) or "methods: " + ", ".join(C.HTTP_METHODS)
        return [error(word.span, "E108", f"`{word.value}` is not a supported HTTP method", hint)]
    return [error(_values_span(item), "E108", "`method` takes one of " + ", ".join(C.HTTP_METHODS))]


def _header(item: A.BlockItem) -> list[Diagnostic]:
    if len(item.values) != 2 or not all(isinstance(v, A.String) for v in item.values):
        return [error(_values_span(item), "E108", "`header` takes exactly two strings: a name and a value",
                      'e.g. `header "Authorization" "Bearer {{ secrets.TOKEN }}"`')]
    name, value = item.values
    if not _HEADER_NAME.fullmatch(name.value):
        return [error(name.span, "E108", f'"{name.value}" is not a valid HTTP header name',
                      "header names are letters, digits and `-` (no spaces or `:`)")]
    if "\n" in value.value or "\r" in value.value:
        return [error(value.span, "E108", "a header value cannot contain a line break")]
    return check_template(value)


def _timeout(item: A.BlockItem) -> list[Diagnostic]:
    value, out = _one(item, A.Duration, "a duration, e.g. `timeout 5s`")
    if value is None:
        return out
    if not 0 < value.seconds <= C.MAX_TIMEOUT_SECONDS:
        return [error(value.span, "E108", f"`timeout` must be more than 0s and at most {C.MAX_TIMEOUT_SECONDS}s",
                      "the default is 10s")]
    return []


def _json(item: A.BlockItem, kinds: tuple[type, ...], what: str) -> list[Diagnostic]:
    value, out = _one(item, kinds, what)
    if value is None:
        return out
    return [d for s in json_strings(value) for d in check_template(s)]


def _payload(item: A.BlockItem) -> list[Diagnostic]:
    return _json(item, (A.JsonObject, A.JsonArray), "a JSON object or array")


def _blocks(item: A.BlockItem) -> list[Diagnostic]:
    return _json(item, (A.JsonArray,), f"a JSON array: `{item.key} [ {{…}} ]`")


def _emails(item: A.BlockItem) -> list[Diagnostic]:
    values, out = _strings(item, 'e-mail addresses as strings: `email "ana@example.com"`')
    return out + [d for v in values if (d := check_email(v))]


def _phones(item: A.BlockItem) -> list[Diagnostic]:
    values, out = _strings(item, 'phone numbers as strings: `sms "+14155550100"`')
    return out + [d for v in values if (d := check_phone(v))]


def _member_channels(item: A.BlockItem) -> list[Diagnostic]:
    _, out = _strings(item, f'{item.key} channel names as strings: `{item.key} "NAME"`')
    return out


def _days(item: A.BlockItem) -> list[Diagnostic]:
    out = []
    for v in item.values:
        if not isinstance(v, (A.Word, A.String)):
            out.append(error(v.span, "E309", "`days` takes day names: `days mon-fri` or `days sat, sun`"))
            continue
        _, problem = parse_days(v)
        if problem:
            out.append(problem)
    return out


def _hours(item: A.BlockItem) -> list[Diagnostic]:
    return [error(v.span, "E309", "`hours` takes time ranges like `01:00-03:00`")
            for v in item.values if not isinstance(v, A.TimeRange)]


def _timezone(item: A.BlockItem) -> list[Diagnostic]:
    value, out = _one(item, A.String, 'one time zone name, e.g. `timezone "Europe/Berlin"`')
    if value is None:
        return out
    problem = check_timezone(value)
    return [problem] if problem else []


_SHAPE_VALIDATORS: dict[str, Validator] = {
    K.URL: _url,
    K.TEMPLATE: _template_string,
    K.TIMEOUT: _timeout,
    K.METHOD: _method,
    K.HEADER: _header,
    K.JSON: _payload,
    K.JSON_ARRAY: _blocks,
}

_VALIDATORS: dict[str, Validator] = {
    "email": _emails,
    "sms": _phones,
    "days": _days,
    "hours": _hours,
    "timezone": _timezone,
}
