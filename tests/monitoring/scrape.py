"""Read a LookoutMetrics the way Prometheus would: through its text exposition."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(metrics) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(snapshot: dict, name: str, **labels) -> float:
    """The sum of `name` over every series whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in snapshot.items() if n == name and want <= ls)


def changed(before: dict, after: dict) -> dict:
    return {k: v for k, v in after.items() if before.get(k, 0.0) != v}
