"""`tocsin alerts …` and `tocsin silences …`: people's acts on a running service, from a shell.

    tocsin alerts list [--status S] [--monitor M] [--severity S] [--instance I] [--flow F]
                       [--customer C] [--acknowledged true|false] [--limit N]
    tocsin alerts show ID
    tocsin alerts ack ID [--comment TEXT] [--by NAME]
    tocsin alerts clear ID [--comment TEXT] [--by NAME]
    tocsin silences list [--all]
    tocsin silences add NAME=VALUE… (--duration D | --until TIME) [--comment TEXT] [--by NAME]
    tocsin silences expire ID

Every command takes `--url` (default `TOCSIN_URL`, else the local service's default
address), `--key` (default `TOCSIN_API_KEY`) and `--format text|json`: tables for people,
the API's own JSON for scripts. Nothing is decided here that the API does not decide:
filters and values are the service's to check (a 422 is a usage error, exit 2), so the
command and the console can never disagree. Exit codes are `service.client`'s.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from service.client import OK, ServiceClient, Unreachable, path_id, with_service
from service.tables import fields, key_text, short_time, table

MAX_PAGE = 500  # the API's largest page (service/routes/paging.py)
# `tocsin alerts list`'s options, each a query parameter of GET /v1/alerts (api.md).
ALERT_FILTERS = {
    "status": "firing, pending, resolved or inactive", "monitor": "the monitor's name",
    "severity": "info, warning, error or critical", "instance": "the instance's id or name",
    "flow": "the flow", "customer": "the customer's external id or name", "acknowledged": "true or false",
}

Action = Callable[[ServiceClient, argparse.Namespace], tuple[Any, str]]


def alerts_command(args: argparse.Namespace) -> int:
    return _run(args, f"tocsin alerts {args.action}", _ALERT_ACTIONS[args.action])


def silences_command(args: argparse.Namespace) -> int:
    return _run(args, f"tocsin silences {args.action}", _SILENCE_ACTIONS[args.action])


def _run(args: argparse.Namespace, name: str, action: Action) -> int:
    """Connect, act, print the JSON or the text; a failure as one message and its exit code."""
    answer, code = with_service(name, args.url, args.key, lambda client: action(client, args))
    if answer is None:
        return code
    value, text = answer
    if args.format == "json":
        print(json.dumps(value, indent=2, ensure_ascii=False))
    elif text:
        print(text)
    return OK


# -- alerts ----------------------------------------------------------------------------

def _list_alerts(client: ServiceClient, args: argparse.Namespace) -> tuple[Any, str]:
    params = {f: getattr(args, f) for f in ALERT_FILTERS if getattr(args, f) is not None}
    alerts, more = _collect(client, "/v1/alerts", params, args.limit)
    text = alerts_table(alerts) if alerts else "no alerts"
    if more:
        print(f"more than {args.limit} alerts: showing the newest (--limit)", file=sys.stderr)
    return alerts, text


def alerts_table(alerts: list[dict[str, Any]]) -> str:
    """One line per alert, newest first as the API lists them."""
    return table(["ID", "STATUS", "ACK", "SEVERITY", "MONITOR", "KEY", "SINCE", "COUNT"], [
        [a.get("id"), a.get("status"), a.get("acknowledged"), a.get("severity"), a.get("monitor"),
         key_text(a.get("key")), short_time(a.get("fired_at") or a.get("pending_since")), a.get("count")]
        for a in alerts])


def _show_alert(client: ServiceClient, args: argparse.Namespace) -> tuple[Any, str]:
    alert = client.call("GET", f"/v1/alerts/{path_id(args.id)}")
    return alert, alert_text(alert)


def alert_text(alert: dict[str, Any]) -> str:
    """The alert as a record, then a line per delivery of each alert event."""
    record = fields([
        ("id", alert.get("id")), ("monitor", alert.get("monitor")), ("status", alert.get("status")),
        ("severity", alert.get("severity")), ("key", key_text(alert.get("key"))),
        ("acknowledged", _acknowledgement(alert)), ("comment", alert.get("comment")),
        ("pending since", short_time(alert.get("pending_since"))),
        ("fired at", short_time(alert.get("fired_at"))), ("resolved at", short_time(alert.get("resolved_at"))),
        ("resolved by", alert.get("resolved_by")), ("count", alert.get("count")),
        ("value", alert.get("value")), ("threshold", alert.get("threshold")),
        ("labels", key_text(alert.get("labels"))), ("last event", alert.get("last_event")),
    ])
    rows = []
    for ae in alert.get("alert_events") or ():
        at, kind = short_time(ae.get("at")), ae.get("kind")
        deliveries = ae.get("deliveries") or ()
        if not deliveries:
            rows.append([at, kind, None, None, "muted" if ae.get("muted") else None, None, None])
        for d in deliveries:
            attempts = d.get("attempts") or []
            error = attempts[-1].get("error") if attempts and isinstance(attempts[-1], dict) else None
            rows.append([at, kind, d.get("channel"), d.get("target"), d.get("state"), len(attempts),
                         error or (f"next {short_time(d['next_attempt_at'])}" if d.get("next_attempt_at") else None)])
    if not rows:
        return record
    return record + "\n\n" + table(["AT", "KIND", "CHANNEL", "TARGET", "STATE", "ATTEMPTS", "LAST ERROR"], rows)


def _acknowledgement(alert: dict[str, Any]) -> str:
    """`no`, or by whom and when (`by ana 2026-11-22T07:31:00Z`)."""
    if not alert.get("acknowledged"):
        return "no"
    by = f"by {alert['acknowledged_by']}" if alert.get("acknowledged_by") else None
    return " ".join(p for p in (by, short_time(alert.get("acknowledged_at"))) if p) or "yes"


def _command(action: str, done: str) -> Action:
    """acknowledge / clear: the updated alert, or the queued command (202)."""

    def run(client: ServiceClient, args: argparse.Namespace) -> tuple[Any, str]:
        alert = client.call("POST", f"/v1/alerts/{path_id(args.id)}/{action}",
                            json={"by": args.by, "comment": args.comment})
        summary = f"{alert.get('id')} ({alert.get('monitor')}, {key_text(alert.get('key'))}, {alert.get('status')})"
        if isinstance(alert.get("command"), dict):
            return alert, (f"{action} of {summary} queued: no evaluator applied it within the service's wait; "
                           "it is applied when one runs")
        return alert, f"{done} {summary}"

    return run


_ALERT_ACTIONS: dict[str, Action] = {
    "list": _list_alerts, "show": _show_alert,
    "ack": _command("acknowledge", "acknowledged"), "clear": _command("clear", "cleared"),
}


# -- silences --------------------------------------------------------------------------

def _list_silences(client: ServiceClient, args: argparse.Namespace) -> tuple[Any, str]:
    silences, more = _collect(client, "/v1/silences", {"all": "true"} if args.all else {}, args.limit)
    if more:
        print(f"more than {args.limit} silences: showing the oldest (--limit)", file=sys.stderr)
    if not silences:
        return silences, "no silences"
    return silences, silences_table(silences)


def silences_table(silences: list[dict[str, Any]]) -> str:
    return table(["ID", "ACTIVE", "MATCHERS", "ENDS", "BY", "COMMENT"], [
        [s.get("id"), s.get("active"), key_text(s.get("matchers")), short_time(s.get("ends_at")),
         s.get("by"), s.get("comment")] for s in silences])


def _add_silence(client: ServiceClient, args: argparse.Namespace) -> tuple[Any, str]:
    body: dict[str, Any] = {"matchers": dict(args.matchers), "comment": args.comment, "by": args.by}
    if args.duration is not None:
        body["duration"] = args.duration
    else:
        body["ends_at"] = args.until
    silence = client.call("POST", "/v1/silences", json=body)
    return silence, (f"silence {silence.get('id')} until {short_time(silence.get('ends_at'))}: "
                     f"{key_text(silence.get('matchers'))}")


def _expire_silence(client: ServiceClient, args: argparse.Namespace) -> tuple[Any, str]:
    client.call("DELETE", f"/v1/silences/{path_id(args.id)}")
    return {"id": args.id, "expired": True}, f"expired silence {args.id}"


_SILENCE_ACTIONS: dict[str, Action] = {"list": _list_silences, "add": _add_silence, "expire": _expire_silence}


# -- shared ----------------------------------------------------------------------------

def _collect(client: ServiceClient, path: str, params: dict[str, Any], limit: int) -> tuple[list[Any], bool]:
    """Up to `limit` items of a cursor-paged list; True when the list goes on."""
    items: list[Any] = []
    cursor = None
    while len(items) < limit:
        page = client.call("GET", path, params={**params, "limit": min(limit - len(items), MAX_PAGE),
                                                **({"cursor": cursor} if cursor else {})})
        if not (isinstance(page, dict) and isinstance(page.get("items"), list)):
            raise Unreachable(f"{client.url}{path} did not answer a list of Tocsin's shape")
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return items, cursor is not None


def matcher(text: str) -> tuple[str, str]:
    """`NAME=VALUE` (argparse type): a silence matcher on the monitor, a key field or a label."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"a matcher is NAME=VALUE (monitor=\"Sync failed\", flow=Sync), not {text!r}")
    return name.strip(), value


def current_user() -> str | None:
    """Who acts, by default: the OS user (recorded as `by`), or None when it cannot be told."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (some containers)
        return None
