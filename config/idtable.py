"""An open-addressing table of ids (person_id -> row), shared by the engine and the decoder."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, TypeVar, overload

import numpy as np

T = TypeVar("T")


class IdTable:
    """Registered id -> row, looked up a whole column at a time, or one id at a time.

    With tens of thousands of persons a dict lookup per row costs up to ~300 ns, nearly all
    of it cache misses on the dict and its keys, taken one after the other. Here a column of ids is
    hashed with numpy and found in an open-addressing table of numpy arrays, so the misses
    overlap. The table compares whole ids (length and 8-byte words), so a hit is exact: the
    hash only says where to look. It is also the engine's person_id -> row index (a dict of
    200,000 ids held 66 bytes a person more than this table).
    """

    def __init__(self, ids: Iterable[str], rows: Iterable[int]):
        texts = list(ids)
        # the shortest and longest id in characters, for the decoder's 1-64 rule
        chars = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        self.chars = (int(chars.min(initial=1)), int(chars.max(initial=1)))
        encoded = [k.encode("utf-8", "surrogatepass") for k in texts]
        # Entry -1 (not registered) reads the -1 appended here.
        self._target = np.append(np.fromiter(rows, dtype=np.int32, count=len(encoded)), -1)
        length = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        starts = np.cumsum(length) - length
        window = _windows(b"".join(encoded))
        self._longest = int(length.max(initial=0))
        # Entry -1 (an empty slot) has a length no id has.
        self._length = np.append(length, -1).astype(np.int32)
        # Word j of id i is self._words[j][i]: 0 past the id's own words, and for i = -1.
        self._words = np.zeros((_word_count(self._longest), len(encoded) + 1), dtype=np.uint64)
        hashes = np.zeros(len(encoded), dtype=np.uint64)
        for width in np.unique(length).tolist():
            these = np.flatnonzero(length == width)
            words = _id_words(window, starts[these], width)
            self._words[: len(words), these] = words
            hashes[these] = _hash(words, width)
        # At most half full: probe runs stay short (a column of 50,000 ids at 200,000 persons
        # is found as fast as at a quarter full) and the slots take ~10 bytes a person, not ~20;
        # a slot holds entry + 1 (0: empty) in 32 bits, so that the table stays in cache.
        bits = max(4, (2 * len(encoded)).bit_length())
        self._shift, self._mask = 64 - bits, (1 << bits) - 1
        slots, self._probes = _linear_probing((hashes >> self._shift).tolist(), self._mask)
        self._slots = (np.array(slots, dtype=np.int64) + 1).astype(np.uint32)

    @overload
    def get(self, key: object) -> int | None: ...

    @overload
    def get(self, key: object, default: T) -> int | T: ...

    def get(self, key: object, default: Any = None) -> Any:
        """The row of one id (`default` if it is not registered), without numpy's per-call
        overhead: the same hash and probe as `lookup`, in plain Python."""
        if not isinstance(key, str):
            return default
        raw = key.encode("utf-8", "surrogatepass")
        width = len(raw)
        if width > self._longest:
            return default
        n = _word_count(width)
        words = struct.unpack(f"<{n}Q", raw.ljust(8 * n, b"\0"))
        h = (width + 1) * _GOLDEN & _WORD
        for w in words:
            h = (h ^ w) * _GOLDEN & _WORD  # as _hash does in uint64
        home, slots, mask, registered = h >> self._shift, self._slots.item, self._mask, self._words.item
        for step in range(self._probes + 1):
            entry = slots((home + step) & mask) - 1
            if entry < 0:
                return default
            if self._length.item(entry) == width:
                for j, w in enumerate(words):
                    if registered(j, entry) != w:
                        break
                else:
                    return self._target.item(entry)
        return default

    def lookup(self, raw: bytes, n: int, width: int | None = None) -> np.ndarray:
        """Person indices (-1: not registered) of the `n` newline-separated ids in `raw`;
        `width`: the ids' common length in characters, if the caller knows they share one."""
        if n == 0:
            return np.empty(0, dtype=np.int32)
        window = _windows(raw)
        starts: slice | np.ndarray
        groups: list[tuple[slice | np.ndarray, int]]
        if width is not None and len(raw) == n * (width + 1) - 1:  # so ASCII: evenly spaced
            starts = slice(0, n * (width + 1), width + 1)
            groups = [(slice(None), width)]
        else:
            newline = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
            starts = np.append(0, newline + 1)
            widths = np.append(newline, len(raw)) - starts
            groups = [(np.flatnonzero(widths == w), w) for w in np.flatnonzero(np.bincount(widths)).tolist()]
        entry = np.empty(n, dtype=np.int64)
        for rows, w in groups:  # one width at a time
            at = starts if isinstance(starts, slice) else starts[rows]
            entry[rows] = self._find(_id_words(window, at, w), w)
        return self._target[entry]

    def _find(self, words: list[np.ndarray], width: int) -> np.ndarray:
        """The registered entry of each id (given as its words), -1 if none."""
        if width > self._longest:
            return np.full(len(words[0]), -1, dtype=np.int64)
        home = (_hash(words, width) >> self._shift).astype(np.int64)
        entry, hit, taken = self._probe(home, words, width)
        entry[~hit] = -1
        todo = np.flatnonzero(taken & ~hit)  # another id's slot: try the next ones
        for step in range(1, self._probes + 1):
            if not len(todo):
                break
            found, hit, taken = self._probe((home[todo] + step) & self._mask, [w[todo] for w in words], width)
            entry[todo[hit]] = found[hit]
            todo = todo[taken & ~hit]
        return entry

    def _probe(self, slot: np.ndarray, words: list[np.ndarray], width: int):
        """(the slots' entries, whether each is the id with these words and width, whether
        the slot is taken at all)."""
        entry = self._slots[slot].astype(np.int64) - 1  # -1: an empty slot
        hit = self._length[entry] == width
        for registered, w in zip(self._words, words, strict=False):
            hit &= registered[entry] == w
        return entry, hit, entry >= 0


_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd: a good multiplicative mixer
_WORD = 2**64 - 1


def _windows(raw: bytes) -> np.ndarray:
    """The 8 bytes from every offset of `raw` as a little-endian uint64 (past the end: 0)."""
    padded = raw + bytes(8)
    return np.ndarray((len(raw) + 1,), "<u8", padded, 0, (1,))


def _word_count(width: int) -> int:
    """How many 8-byte words hold an id of `width` bytes (one, all zero, for an empty id)."""
    return max(1, -(-width // 8))


def _id_words(window: np.ndarray, starts, width: int) -> list[np.ndarray]:
    """Ids of `width` bytes as 8-byte words, the last one zero-padded; `starts`: where they
    start, as an index array or (evenly spaced) a slice."""
    # Copied from a slice too: unaligned strided reads are slow, and each word is read often.
    words = [
        window[starts + at] if isinstance(starts, np.ndarray) else window[at:][starts].copy()
        for at in range(0, 8 * _word_count(width), 8)
    ]
    if width % 8 or not width:  # drop the bytes that follow the id
        words[-1] &= (1 << 8 * (width % 8)) - 1
    return words


def _hash(words: list[np.ndarray], width: int) -> np.ndarray:
    """A 64-bit hash of each id, from its words."""
    h = np.full(len(words[0]), (width + 1) * _GOLDEN % 2**64, dtype=np.uint64)
    for w in words:
        h = (h ^ w) * _GOLDEN  # uint64 wraps: multiplication modulo 2**64
    return h  # its top bits, which depend on every byte, pick the slot


def _linear_probing(home: list[int], mask: int) -> tuple[list[int], int]:
    """A table of `mask + 1` slots holding entry i at or after slot home[i], and the longest
    distance any entry landed from its home."""
    slots, longest = [-1] * (mask + 1), 0
    for i, slot in enumerate(home):
        step = 0
        while slots[(slot + step) & mask] >= 0:
            step += 1
        slots[(slot + step) & mask] = i
        longest = max(longest, step)
    return slots, longest
