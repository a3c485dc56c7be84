"""The office tree of a bundle (SPEC §2 `offices`): each 司法所's name and the chain of parents
up to the county's 社区矫正指挥中心. The loader has already refused unknown parents and cycles.
An office that `offices` does not list is its own root, named by its id."""

from __future__ import annotations

from config.model import Bundle


class Offices:
    def __init__(self, bundle: Bundle):
        self.specs = {o.office_id: o for o in bundle.offices}
        self._chains: dict[str, tuple[str, ...]] = {}

    def name(self, office_id: str | None) -> str | None:
        if not office_id:
            return None
        spec = self.specs.get(office_id)
        return spec.name if spec is not None else office_id

    def parent(self, office_id: str) -> str | None:
        spec = self.specs.get(office_id)
        return spec.parent_id if spec is not None else None

    def chain(self, office_id: str) -> tuple[str, ...]:
        """The office itself, then its parent, and so on up to its root."""
        found = self._chains.get(office_id)
        if found is None:
            out: list[str] = []
            at: str | None = office_id
            while at is not None and at not in out:
                out.append(at)
                spec = self.specs.get(at)
                at = spec.parent_id if spec is not None else None
            found = self._chains[office_id] = tuple(out)
        return found

    def below(self, office_id: str, known: set[str] | frozenset[str]) -> frozenset[str]:
        """Of the offices in `known`, those whose chain passes through `office_id` (itself
        included): whom a centre's staff look after."""
        return frozenset(o for o in known if office_id in self.chain(o))
