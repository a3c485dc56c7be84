"""`lookout record` from the embedded service's store, pseudonymised, and replayed."""

from __future__ import annotations

import gzip
import io
import threading
import time

import orjson
from drillkit import fix, now_ms, status

from config.loader import load_bundle
from stream.cli import main
from stream.deadletter import DeadLetterWriter
from stream.drill.recorder import pseudonym
from stream.replay import replay


def posted_feed() -> list[list[bytes]]:
    """Six requests: P1 leaves home (zone_exit), P2 switches off, plus a drill event and a
    tick that a recording leaves out."""
    t = now_ms() - 900_000
    reqs = []
    for k in range(6):  # three fixes out of home confirm the exit (SPEC §3)
        ts = t + k * 120_000
        lon = 120.04 if k >= 3 else 120.0 + k * 0.005
        lines = [fix("P1", ts, lon=lon), fix("P2", ts + 1), fix("P3", ts + 2)]
        if k == 2:
            lines += [status("P2", ts + 3, "power_off"),
                      orjson.dumps({"type": "tick", "ts": ts + 4}),
                      orjson.dumps({**orjson.loads(fix("P4", ts + 5)), "drill": True})]
        reqs.append(lines)
    return reqs


def alerts_of(bundle, lines: list[bytes]) -> list[tuple]:
    out = io.BytesIO()
    path = bundle.parent / f"feed-{time.monotonic_ns()}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    replay(load_bundle(bundle), [str(path)], out, DeadLetterWriter(None), parallel=False)
    return sorted((u["type"], u["opened_at"], u["version"])
                  for u in map(orjson.loads, out.getvalue().splitlines()))


def test_recording_the_service_pseudonymised_replays_to_the_same_alerts(tmp_path, service,
                                                                         bundle, capsys):
    salt = tmp_path / "salt"
    salt.write_text("a secret salt\n")
    out, pseudo_bundle = tmp_path / "rec.jsonl.gz", tmp_path / "bundle-pseudo"
    codes = []
    recorder = threading.Thread(target=lambda: codes.append(main([
        "record", "--db", str(service.db), "--url", service.url, "--out", str(out),
        "--duration", "2.5", "--pseudonymise", f"@{salt}", "--bundle", str(bundle),
        "--bundle-out", str(pseudo_bundle)])))
    recorder.start()
    time.sleep(0.5)  # the recorder starts from the inbox's end
    requests = posted_feed()
    for lines in requests:
        assert service.post(lines)["accepted"] == len(lines)
        time.sleep(0.2)
    recorder.join(20)
    assert codes == [0]
    summary = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary["inbox_rows_missed"] == 0, summary
    assert (summary["recorded"], summary["ticks_left_out"], summary["drill_left_out"]) == (19, 1, 1)

    with gzip.open(out) as fh:
        recorded = [orjson.loads(x) for x in fh]
    real = [orjson.loads(x) for lines in requests for x in lines]
    real = [e for e in real if e["type"] != "tick" and not e.get("drill")]
    key = b"a secret salt"
    assert [e["person_id"] for e in recorded] == [pseudonym(key, e["person_id"]) for e in real]
    assert [{k: v for k, v in e.items() if k != "person_id"} for e in recorded] == \
        [{k: v for k, v in e.items() if k != "person_id"} for e in real]
    assert pseudonym(key, "P1") != pseudonym(b"another salt", "P1")

    persons = {p.person_id: p for p in load_bundle(pseudo_bundle).persons}
    assert pseudonym(key, "P1") in persons and "P1" not in persons
    assert persons[pseudonym(key, "P1")].name.startswith("对象 ")
    original = alerts_of(bundle, [orjson.dumps(e) for e in real])
    # P5, registered and never heard from, counts as silent after its 120 s (漏管)
    assert [a[0] for a in original if a[2] == 1] == ["device_off", "signal_lost", "zone_exit"]
    assert alerts_of(pseudo_bundle, [orjson.dumps(e) for e in recorded]) == original


def test_record_refuses_what_cannot_work(tmp_path, capsys):
    assert main(["record", "--db", str(tmp_path / "none.db"), "--out",
                 str(tmp_path / "x.jsonl")]) == 3
    assert "no store at" in capsys.readouterr().err
    for bad in (["--url", "http://x", "--out", "x.jsonl", "--kafka", "k:1"],
                ["--db", "x.db", "--out", "x.jsonl", "--bundle", "b"]):
        try:
            main(["record", *bad])
        except SystemExit as exc:
            assert exc.code == 2
        else:
            raise AssertionError(f"accepted {bad}")
