"""person_id -> row: one id table serves the engine (one id at a time) and the decoder (whole
columns), and answers exactly as a dict of the same ids would."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.cache import Compiled
from config.persons import PersonRows, TextColumn
from config.settings import Settings
from stream.decode import Decoder
from stream.events import INVALID_FIELD, UNKNOWN_PERSON
from tests.enginekit import bundle, person
from tests.test_decode import RECV, fix


def _column_lookup(rows: PersonRows, ids: list[str]) -> list[int]:
    raw = "\n".join(ids).encode("utf-8", "surrogatepass")
    return rows.table.lookup(raw, len(ids)).tolist()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=70), max_size=60, unique=True),
       st.lists(st.text(max_size=70), max_size=20))
def test_rows_answer_as_a_dict_would(registered, strangers):
    # any ids: empty, over 64 characters, lone surrogates, many widths at once
    rows = PersonRows(registered, Compiled())
    truth = {pid: i for i, pid in enumerate(registered)}
    assert len(rows) == len(truth) and list(rows) == registered
    assert dict(rows.items()) == truth and rows == truth
    for pid in registered + strangers:
        assert rows.get(pid) == truth.get(pid)
        assert rows.get(pid, -1) == truth.get(pid, -1)
        assert (pid in rows) == (pid in truth)
        if pid in truth:
            assert rows[pid] == truth[pid]
        else:
            with pytest.raises(KeyError):
                rows[pid]
    asked = [pid for pid in registered + strangers if "\n" not in pid]
    assert _column_lookup(rows, asked) == [truth.get(pid, -1) for pid in asked]
    every = registered + strangers  # newlines too: those go one by one
    assert rows.rows(every).tolist() == [truth.get(pid, -1) for pid in every]
    assert rows.rows(every).dtype == np.int64


def test_rows_in_a_big_registry_with_colliding_ids():
    ids = [f"SIM{i:06d}" for i in range(0, 60_000, 3)]
    rows = PersonRows(ids, Compiled())
    assert all(rows[pid] == i for i, pid in enumerate(ids))
    near = [f"SIM{i:06d}" for i in range(1, 3000, 3)] + ["SIM", "SIM0000000", "", "SIM00000"]
    assert not any(pid in rows for pid in near)
    assert rows.get(None) is None and 3 not in rows and rows.get(b"SIM000000") is None


def test_the_engine_and_its_decoder_share_one_table():
    from alerts.engine import Engine

    engine = Engine(bundle(persons=[person("P1"), person("P2")]))
    decoder = Decoder(engine.person_index, engine.caseload.settings)
    assert decoder._index is engine.person_index.table
    batch, dead = decoder.decode([fix(person_id="P2"), fix(person_id="P3")], RECV)
    assert batch.person.tolist() == [1] and [d.reason for d in dead] == [UNKNOWN_PERSON]


def test_an_id_no_event_can_carry_is_left_out_of_the_decoders_table():
    # registered, yet 65 characters: an event naming it breaks the 1-64 rule (invalid_field)
    rows = PersonRows(["P1", "L" * 65], Compiled())
    assert rows["L" * 65] == 1
    decoder = Decoder(rows, Settings(datum_conversion=False))
    assert decoder._index is not rows.table
    batch, dead = decoder.decode([fix(person_id="L" * 65), fix(person_id="P1")], RECV)
    assert batch.person.tolist() == [0] and [d.reason for d in dead] == [INVALID_FIELD]


@given(st.lists(st.text(max_size=12), max_size=30))
def test_a_text_column_reads_as_the_list_it_was_made_of(values):
    col = TextColumn(values)
    assert len(col) == len(values) and list(col) == values and col == values
    assert [col[i] for i in range(-len(values), len(values))] == values + values
    assert col[1:-1] == values[1:-1] and col == TextColumn(list(values))
    assert col != TextColumn([*values, ""]) and col.has_empty() == ("" in values)
    with pytest.raises(IndexError):
        col[len(values)]


def test_the_person_table_keeps_its_ids_as_one_string():
    from config.persons import PersonTable

    table = PersonTable.of([person("P1"), person("P22"), person("P333")])
    assert isinstance(table.ids, TextColumn) and table.ids == ["P1", "P22", "P333"]
    assert table[1].person_id == "P22" and [p.person_id for p in table] == ["P1", "P22", "P333"]


def test_the_caseload_reads_offices_and_officers_through_the_tables_codes():
    from alerts.caseload import Caseload
    from config.model import PersonSpec
    from config.persons import PersonTable

    specs = [PersonSpec(f"P{i}", "", f"o{i % 2}", f"w{i % 3}", ("home",), (), 60.0)
             for i in range(7)]
    cl = Caseload(bundle(persons=specs))
    table = PersonTable.of(specs)
    assert cl.office_ids == table.office_ids() == [p.office_id for p in specs]
    assert cl.officer_ids == [p.officer_id for p in specs]
    assert cl.officer_ids[4] == "w1" and cl.officer_ids[-1] == "w0"
    assert cl.office_ids[2:5] == ["o0", "o1", "o0"] and len(cl.office_ids) == 7


def test_silence_timeouts_shared_by_everyone_are_one_value_and_others_a_column():
    from alerts.caseload import Caseload

    same = Caseload(bundle(persons=[person("P1"), person("P2"), person("P3")]))
    assert same.timeout_ms.tolist() == [1_800_000] * 3 and same.timeout_ms.strides == (0,)
    assert same.timeout_ms.base.size == 1  # holds the one value, not a column of them
    mixed = Caseload(bundle(persons=[person("P1", timeout_s=600.0), person("P2"),
                                     person("P3", timeout_s=0.0015)]))
    assert mixed.timeout_ms.tolist() == [600_000, 1_800_000, 2]
    for cl in (same, mixed):
        assert cl.timeout_ms.dtype == np.int64 and not cl.timeout_ms.flags.writeable


def test_codes_are_as_narrow_as_their_values_allow_and_read_back_the_same():
    from config.model import PersonSpec
    from config.persons import PersonTable

    specs = [PersonSpec(f"P{i}", "", f"office-{i % 300}", f"w{i % 5}", (f"z{i % 129}",),
                        ("g",) if i % 2 else (), 60.0) for i in range(700)]
    table = PersonTable.of(specs)
    assert (table.office.dtype, table.officer.dtype) == (np.int16, np.int8)
    assert (table.zones.dtype, table.groups.dtype) == (np.int16, np.int8)
    assert table[299] == specs[299] and table[-1] == specs[-1]  # built from the codes
    assert list(table) == specs
