"""The CLI's tables and records (service/tables.py) and what `tocsin alerts` prints from
API documents (service/alerts_cli.py): pure functions, no service."""

from __future__ import annotations

import pytest

from service.alerts_cli import alert_text, alerts_table, silences_table
from service.tables import cell, fields, key_text, short_time, table, width


def test_columns_align_under_their_headers_without_trailing_blanks():
    text = table(["ID", "STATUS", "COUNT"], [["a1", "firing", 3], ["b222222", None, None]])
    assert text.splitlines() == [
        "ID       STATUS  COUNT",
        "a1       firing  3",
        "b222222  -       -",
    ]


def test_a_table_of_no_rows_is_its_header():
    assert table(["ID", "STATUS"], []) == "ID  STATUS"


@pytest.mark.parametrize(("value", "text"), [
    (None, "-"), (True, "yes"), (False, "no"), (3, "3"), (2.5, "2.5"), ({"a": 1}, '{"a":1}'),
    ("two\nlines\tand\x1b[31mcolour", "two lines and [31mcolour"),
])
def test_cells_are_one_line(value, text):
    assert cell(value) == text


def test_a_long_cell_is_cut_with_an_ellipsis_at_the_width():
    assert cell("x" * 60, 10) == "x" * 9 + "…"
    assert cell("x" * 10, 10) == "x" * 10
    cut = cell("警告" * 10, 9)  # wide characters count two columns
    assert width(cut) <= 9 and cut.endswith("…") and cut.startswith("警告警告")


def test_wide_characters_keep_the_columns_aligned():
    assert table(["NAME", "N"], [["警告", 1], ["ab", 2]]).splitlines() == ["NAME  N", "警告  1", "ab    2"]


def test_key_text_reads_as_silence_matchers():
    assert key_text({"instance": "Acme", "flow": "Sync"}) == "flow=Sync instance=Acme"
    assert key_text({"monitor": "Sync failed", "n": 3, "e": ""}) == 'e="" monitor="Sync failed" n=3'
    assert key_text({}) == "-" and key_text(None) == "-"


def test_short_time_drops_the_fraction_only():
    assert short_time("2026-11-22T07:30:00.125Z") == "2026-11-22T07:30:00Z"
    assert short_time("2026-11-22T07:30:00Z") == "2026-11-22T07:30:00Z"
    assert short_time(None) is None


def test_fields_pad_names():
    assert fields([("id", "a"), ("severity", None)]) == "id        a\nseverity  -"


ALERT = {
    "id": "b95fc97ae04876515a166c46", "monitor": "Sync failed", "key": {"instance": "Acme", "flow": "Sync"},
    "status": "firing", "acknowledged": True, "acknowledged_by": "ana",
    "acknowledged_at": "2026-11-22T07:31:00.000Z", "comment": "looking", "severity": "critical",
    "fired_at": "2026-11-22T07:30:00.125Z", "resolved_at": None, "resolved_by": None, "pending_since": None,
    "count": 1, "value": None, "threshold": None, "labels": {},
    "last_event": {"id": "e1", "type": "execution.failed"},
}


def test_alerts_table_has_one_line_per_alert_with_its_id_in_full():
    lines = alerts_table([ALERT]).splitlines()
    assert lines[0].split() == ["ID", "STATUS", "ACK", "SEVERITY", "MONITOR", "KEY", "SINCE", "COUNT"]
    assert lines[1].split("  ")[0] == ALERT["id"]
    assert "Sync failed" in lines[1] and "flow=Sync instance=Acme" in lines[1] and "2026-11-22T07:30:00Z" in lines[1]


def test_alert_text_lists_every_delivery_and_a_muted_alert_event():
    alert = {**ALERT, "alert_events": [
        {"kind": "fired", "at": "2026-11-22T07:30:00.125Z", "deliveries": [
            {"channel": "email", "target": "ana@example.com", "state": "failed",
             "attempts": [{"attempt": 1, "error": "e-mail needs TOCSIN_SMTP_URL"}]},
            {"channel": "webhook", "target": "PagerDuty", "state": "pending", "attempts": [],
             "next_attempt_at": "2026-11-22T07:30:05.000Z"}]},
        {"kind": "repeated", "at": "2026-11-22T07:45:00.000Z", "muted": True, "deliveries": []}]}
    text = alert_text(alert)
    assert "acknowledged   by ana 2026-11-22T07:31:00Z" in text
    rows = text.split("\n\n")[1].splitlines()
    assert rows[0].split() == ["AT", "KIND", "CHANNEL", "TARGET", "STATE", "ATTEMPTS", "LAST", "ERROR"]
    assert "ana@example.com" in rows[1] and rows[1].endswith("e-mail needs TOCSIN_SMTP_URL")
    assert "PagerDuty" in rows[2] and rows[2].endswith("next 2026-11-22T07:30:05Z")
    assert "repeated" in rows[3] and "muted" in rows[3]


def test_alert_text_without_alert_events_is_the_record():
    assert "\n\n" not in alert_text({**ALERT, "acknowledged": False, "alert_events": []})


def test_silences_table():
    text = silences_table([{"id": "sil_1", "active": True, "matchers": {"monitor": "Sync failed"},
                            "ends_at": "2026-11-22T09:30:00.000Z", "by": "bo", "comment": "deploy"}])
    assert [c.strip() for c in text.splitlines()[1].split("  ") if c] == [
        "sil_1", "yes", 'monitor="Sync failed"', "2026-11-22T09:30:00Z", "bo", "deploy"]
