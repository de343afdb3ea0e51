"""An operator's meter file, registered by a job (``POST /meters/import``).

The request checks the whole file (every line, the dwellings it names) and keeps it in
``meter_import``; the ``import_meters`` job then registers it in batches, one transaction each,
so a large file shows its progress and never holds one long transaction. Serials already known
stay as they are (``register_meters``): a job retried after a crash counts the meters its first
run created as existing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import InvalidInput
from registry.exceptions import MeterImportNotFound
from registry.registration import MeterRegistration, from_json, to_json
from registry.repository import RegistryRepository


async def check_dwellings(session: AsyncSession, *, meters: Sequence[MeterRegistration]) -> None:
    """Raises InvalidInput when the file names dwellings that do not exist."""
    dwelling_ids = {m.dwelling_id for m in meters if m.dwelling_id is not None}
    if dwelling_ids:
        unknown = await RegistryRepository(session).unknown_dwellings(dwelling_ids)
        if unknown:
            raise InvalidInput(f"dwellings {unknown} do not exist")


async def store_import(session: AsyncSession, *, meters: Sequence[MeterRegistration]) -> int:
    """Keep a checked file for its job; returns the import's id."""
    await check_dwellings(session, meters=meters)
    return await RegistryRepository(session).add_import([to_json(m) for m in meters])


async def load_import(session: AsyncSession, *, import_id: int) -> list[MeterRegistration]:
    meters = await RegistryRepository(session).import_meters(import_id)
    if meters is None:
        raise MeterImportNotFound(f"meter import {import_id} does not exist (done already?)")
    return [from_json(m) for m in meters]


async def drop_import(session: AsyncSession, *, import_id: int) -> None:
    """Forget a file once all its meters are registered."""
    await RegistryRepository(session).drop_import(import_id)
