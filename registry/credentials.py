"""Broker credentials: one MQTT identity per meter, its serial as user name.

A meter's password is random, shown once to whoever issues it (operator, installer, simulator)
and written only as a hash into the broker's own password file, which the broker's ACL pattern
turns into "this login may publish on this serial's uplink topic and nowhere else". Our database
keeps no copy: the broker is the only party that checks it (docs/deploy.md, "Securing the broker").
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from core.broker_auth import new_password, reload_broker, set_passwords
from core.config import MqttSettings
from registry import service as registry_service
from registry.exceptions import BrokerAuthUnavailable, MeterAlreadyRemoved
from registry.models import Meter
from wire.topics import uplink_topic


@dataclass(frozen=True)
class MeterCredentials:
    """What a meter is provisioned with; the password is never shown again."""

    serial: str
    username: str
    password: str
    topic: str


def write_credentials(
    mqtt: MqttSettings, *, serials: Sequence[str], passwords: Mapping[str, str] | None = None
) -> list[MeterCredentials]:
    """Give each serial a login (random password unless given) in the broker, then reload it.

    Raises:
        BrokerAuthUnavailable: no password file is configured, or the broker cannot be reloaded.
    """
    if mqtt.password_file is None:
        raise BrokerAuthUnavailable("no broker password file is configured (mqtt.password_file)")
    chosen = {serial: (passwords or {}).get(serial) or new_password() for serial in serials}
    set_passwords(Path(mqtt.password_file), chosen)
    if mqtt.broker_pid_file is not None:
        try:
            reload_broker(Path(mqtt.broker_pid_file))
        except (OSError, ValueError) as exc:
            raise BrokerAuthUnavailable(
                f"credentials written, but the broker was not reloaded ({exc}): send it SIGHUP"
            ) from exc
    return [
        MeterCredentials(
            serial=serial,
            username=serial,
            password=password,
            topic=uplink_topic(mqtt.topic_prefix, mqtt.shards, serial),
        )
        for serial, password in chosen.items()
    ]


async def _issue(mqtt: MqttSettings, meters: Sequence[Meter]) -> list[MeterCredentials]:
    removed = [meter.serial for meter in meters if meter.removed_at is not None]
    if removed:
        raise MeterAlreadyRemoved(f"removed meters get no credentials: {', '.join(removed)}")
    serials = [meter.serial for meter in meters]
    # A file write and a signal: off the event loop, the file grows with the fleet.
    return await asyncio.to_thread(write_credentials, mqtt, serials=serials)


async def issue_meter_credentials(
    session: AsyncSession, *, meter_id: int, mqtt: MqttSettings
) -> MeterCredentials:
    """Issue (or rotate: the old password stops at the reload) one meter's broker login."""
    meter = await registry_service.get_meter(session, meter_id=meter_id)
    return (await _issue(mqtt, [meter]))[0]


async def issue_credentials_by_serial(
    session: AsyncSession, *, serials: Sequence[str], mqtt: MqttSettings
) -> list[MeterCredentials]:
    """Issue or rotate the logins of registered meters, with one broker reload."""
    meters = [
        await registry_service.get_meter_by_serial(session, serial=serial) for serial in serials
    ]
    return await _issue(mqtt, meters)
