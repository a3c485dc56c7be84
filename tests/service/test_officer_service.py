"""The officer service both backends implement (alerts/service.py) and the parts they share
(stream/officer/)."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import orjson
import pytest
from metricskit import sample
from servicekit import write_bundle

from alerts.actions import ActionError
from config.loader import load_bundle
from stream.metrics import LookoutMetrics
from stream.officer import actions
from stream.officer.faults import StoreFaults
from stream.officer.lines import nonblank
from stream.officer.persons import PersonDirectory, record_of

ROOT = Path(__file__).resolve().parents[2]


def test_both_runtimes_are_the_declared_officer_service_under_mypy(tmp_path):
    """Both runtimes type-check as OfficerService; a runtime lacking a member would not (the
    control below), so a member missing from either backend fails here."""
    api = pytest.importorskip("mypy.api")
    check = tmp_path / "conformance.py"
    check.write_text(textwrap.dedent("""
        from alerts.service import OfficerService
        from stream.kafka.officer import KafkaOfficerRuntime
        from stream.live import LiveRuntime

        def live(rt: LiveRuntime) -> OfficerService:
            return rt

        def kafka(rt: KafkaOfficerRuntime) -> OfficerService:
            return rt

        class Halfway:  # the control: only some of the members
            def stop(self) -> None: ...

        def control(rt: Halfway) -> OfficerService:
            return rt
    """))
    out, err, _ = api.run(["--follow-imports=silent", "--no-error-summary",
                           "--config-file", str(ROOT / "pyproject.toml"), str(check)])
    errors = [ln for ln in out.splitlines() if ": error:" in ln]
    assert len(errors) == 1, out + err
    assert "conformance.py:16:" in errors[0] and '"Halfway"' in errors[0]


def test_the_directory_releases_who_leaves_the_bundle_and_takes_back_who_returns(tmp_path):
    bundle = load_bundle(write_bundle(tmp_path))
    p1 = next(p for p in bundle.persons if p.person_id == "P1")
    stored = {"P9": {"record": {**record_of(p1), "person_id": "P9", "office_id": "gone-office",
                                "retired_field": 1}, "released_at": 0, "by": None}}
    d = PersonDirectory(bundle, stored)
    assert d.office_of("P1") == p1.office_id
    assert d.office_of("P9") == "gone-office"  # released: alerts stay with the office
    assert d.office_of(None) is None and d.office_of("nobody") is None

    without_p1 = dataclasses.replace(bundle, persons=[p for p in bundle.persons if p is not p1])
    before = d.former
    swap = d.swap(bundle, without_p1)
    assert [p.person_id for p in swap.released] == ["P1"] and swap.enrolled == []
    assert d.former is not before and set(d.former) == {"P1", "P9"}
    assert d.office_of("P1") == p1.office_id

    swap = d.swap(without_p1, bundle)  # enrolled again
    assert swap.released == [] and swap.enrolled == ["P1"]
    assert set(d.former) == {"P9"}


def test_action_intake_sets_type_and_time_and_refuses_what_is_not_json():
    with pytest.raises(ActionError) as e:
        actions.opened(["acknowledge"], 5)
    assert e.value.reason == "invalid_field"
    a = actions.opened({"alert_id": "A1", "action": "acknowledge", "by": 7}, 5)
    assert a == {"type": "action", "alert_id": "A1", "action": "acknowledge", "by": 7, "ts": 5}
    assert actions.opened({"ts": 3, "type": "other"}, 5) == {"type": "other", "ts": 3}
    assert orjson.loads(actions.payload(a)) == a
    assert actions.log_fields(a) == ("A1", "acknowledge", None)  # a number is not an officer
    with pytest.raises(ActionError) as e:
        actions.payload({**a, "note": {1, 2}})
    assert e.value.reason == "invalid_field" and "not JSON" in str(e.value)


def test_lines_come_as_bytes_without_the_blank_ones():
    assert nonblank(["a", b" b ", bytearray(b"c"), "", b"  ", "\r"]) == [b"a", b" b ", b"c"]


def test_a_store_fault_is_counted_each_time_and_ends_with_the_next_good_write():
    metrics = LookoutMetrics()
    faults = StoreFaults(metrics)
    faults.failed(OSError("disk full"))
    faults.failed(OSError("disk I/O error"))
    assert faults.current is not None
    assert faults.current["failures"] == 2 and faults.current["error"] == "disk I/O error"
    assert sample(metrics.render().decode(), "lookout_store_errors_total", operation="write") == 2
    ended = faults.cleared()
    assert ended is not None and ended["failures"] == 2
    assert faults.current is None and faults.cleared() is None
