"""Shard sets: which ``<prefix>/<shard>/...`` topics a worker consumes, and the client id (the
broker session) that goes with them."""

from __future__ import annotations


def parse_shards(spec: str, total: int) -> list[int]:
    """``all`` or a list of shards and ranges (``0-7,9``) -> sorted shard numbers."""
    if spec.strip() == "all":
        return list(range(total))
    shards: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"shard list {spec!r}: {part!r} is not a number or a range a-b")
        first, last = int(low), int(high or low)
        if first > last or last >= total:
            raise ValueError(f"shard list {spec!r}: {part!r} is outside 0-{total - 1}")
        shards.update(range(first, last + 1))
    return sorted(shards)


def shard_label(shards: list[int]) -> str:
    """Compact ranges (``0-7,9``): the part of the client id that names the shard set."""
    parts: list[str] = []
    start = previous = shards[0]
    for shard in [*shards[1:], None]:
        if shard is not None and shard == previous + 1:
            previous = shard
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if shard is not None:
            start = previous = shard
    return ",".join(parts)


def client_id(base: str, shards: list[int]) -> str:
    """One persistent session per shard set: two workers never share (and steal) a session."""
    return f"{base}-{shard_label(shards)}"
