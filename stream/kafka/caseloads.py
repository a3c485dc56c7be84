"""A bundle's persons split by Kafka partition: each partition's engine and decoder hold only the
persons whose events go there.

A person's home partition is where Kafka's default partitioner puts their key (murmur2 of
person_id). A worker holding some of the partitions keeps state for their persons only, not
for the whole table once per partition. The compiled zones are built once and shared; the rest
of a partition's caseload (person columns, zone assignment, permits) is built from a bundle of
its own persons when first asked for, and kept (the worker asks for every partition's at start,
before it joins the group: about 0.25 s each at 50,000 persons).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from alerts.caseload import compiled_zones
from alerts.engine import Engine
from config.cache import compiled
from config.idtable import IdTable
from config.model import Bundle
from config.persons import PersonRows, PersonTable, take
from stream.decode import Decoder
from stream.kafka.partition import placement


@dataclass(frozen=True, slots=True)
class PartitionCaseload:
    """What a partition runs on: an engine and a decoder over its own persons."""

    partition: int
    n_partitions: int
    engine: Engine
    decoder: Decoder
    spread: np.ndarray  # per engine row: the hash bits the partition does not use (buckets)
    homes: Homes  # every registered person's home partition, to name a misrouted one


class Homes:
    """person_id -> home partition for every registered person: the whole bundle's id table
    (kept in the bundle cache) and a partition number a row. A dict of 200,000 ids cost about
    100 bytes a person in every worker, for the rare misrouted event."""

    __slots__ = ("_rows", "_home")

    def __init__(self, rows: IdTable, home: np.ndarray) -> None:
        self._rows, self._home = rows, home

    def get(self, person_id: object) -> int | None:
        row = self._rows.get(person_id)
        return None if row is None else int(self._home[row])


class Partitioned:
    """The bundle's partitions' caseloads, each built once, when first asked for."""

    def __init__(self, bundle: Bundle, n_partitions: int):
        self.bundle, self.n_partitions = bundle, n_partitions
        self.zones = compiled_zones(bundle)  # from the bundle cache, shared by every partition
        self.table = PersonTable.of(bundle.persons)
        homes, self.spread = placement(self.table.ids, n_partitions)
        # the whole bundle's id table, as its cache keeps it: no engine over everyone is built
        self.homes = Homes(PersonRows(self.table.ids, compiled(bundle)).table,
                           homes.astype(np.int32))
        order = np.argsort(homes, kind="stable")
        cuts = np.searchsorted(homes[order], np.arange(n_partitions + 1))
        self.rows = [order[cuts[p]:cuts[p + 1]] for p in range(n_partitions)]
        self._built: dict[int, PartitionCaseload] = {}

    def __getitem__(self, p: int) -> PartitionCaseload:
        if p not in self._built:
            self._built[p] = self._build(p)
        return self._built[p]

    def built(self) -> list[PartitionCaseload]:
        return list(self._built.values())

    def _build(self, p: int) -> PartitionCaseload:
        rows = self.rows[p]
        persons = take(self.table, rows)
        mine = set(persons.ids)
        # dataclasses.replace starts an empty compiled store: what the whole bundle cached
        # (its zone assignment, the decoder's index) is over other rows
        sub = dataclasses.replace(self.bundle, persons=persons,
                                  permits=[pm for pm in self.bundle.permits
                                           if pm.person_id in mine])
        engine = Engine(sub, zones=self.zones)
        return PartitionCaseload(p, self.n_partitions, engine,
                                 Decoder(engine.person_index, sub.settings),
                                 self.spread[rows], self.homes)
