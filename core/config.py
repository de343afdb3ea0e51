"""All configuration, read from the environment (prefix ``WATERBILL_``) and an optional ``.env``.

Each component has its own small settings model, nested under one ``Settings`` so that there is one
place to read and document; nested fields are set as ``WATERBILL_<GROUP>__<FIELD>``.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.config_analytics import (
    AlertSettings,
    AnalyticsSettings,
    OccupancySettings,
    VeeSettings,
)
from core.config_auth import AuthSettings
from core.config_billing import AccountingSettings, BillingSettings, PaymentsSettings
from core.config_ingest import IngestSettings
from core.config_jobs import JobsSettings
from core.config_mqtt import MqttSettings as MqttSettings

DEV_SECRET = "changethis"
# HS256 keys shorter than the hash output weaken the signature (RFC 7518 section 3.2).
MIN_SECRET_BYTES = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ApiSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, description="Port the API listens on.")
    ready_timeout_s: float = Field(2.0, description="Per-dependency time limit of /health/ready.")
    forwarded_allow_ips: str = Field(
        "",
        description="Proxies (comma-separated addresses or networks, or `*`) whose"
        " X-Forwarded-For names the client; empty: none, the peer is the client.",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        """uvicorn reads a malformed entry as a literal host name that never matches: refuse it."""
        for entry in filter(None, (part.strip() for part in value.split(","))):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"forwarded_allow_ips: {entry!r} is neither an IP address, a network nor *"
                ) from None
        return value


class RollupSettings(BaseModel):
    batch_meters: int = Field(
        2000, ge=1, description="Meters claimed from the rollup queue per refresh transaction."
    )
    interval_s: float = Field(
        5.0, gt=0, description="`waterbill rollup --follow`: wait between polls of an empty queue."
    )
    work_mem: str = Field(
        "64MB", description="PostgreSQL work_mem of a refresh transaction (its sorts stay in RAM)."
    )


class TelemetrySettings(BaseModel):
    metrics_interval_s: float = Field(
        15.0, gt=0, description="How often the API refreshes its fleet gauges on /metrics."
    )
    max_hourly_range_days: int = Field(
        93, ge=1, description="Longest time range one hourly volumes request may ask for."
    )
    max_daily_range_days: int = Field(
        3700, ge=1, description="Longest time range one daily volumes request may ask for."
    )


class SmsProviderName(StrEnum):
    TWILIO = "twilio"
    CONSOLE = "console"


class SmsSettings(BaseModel):
    provider: SmsProviderName = Field(
        SmsProviderName.CONSOLE,
        description="`twilio`, or `console` (the demo and tests: sends nothing; logs the text in"
        " development only; refused in production).",
    )
    twilio_account_sid: str = Field("", description="Twilio account SID.")
    twilio_auth_token: SecretStr = Field(SecretStr(""), description="Twilio auth token.")
    from_number: str = Field("", description="Sender number (E.164) or alphanumeric sender id.")
    twilio_base_url: str | None = Field(
        None, description="Replaces https://api.twilio.com (a local fake in tests)."
    )
    inbound_url: str = Field(
        "",
        description="Public URL of `POST /sms/inbound` as configured at Twilio (the URL its"
        " signature covers); empty: the URL the request arrived on.",
    )
    max_attempts: int = Field(
        5, ge=1, description="Sends tried before an SMS is given up (every kind of SMS)."
    )
    retry_s: int = Field(
        300, ge=1, description="Wait before retrying a refused SMS, doubled after each failure."
    )
    retry_cap_s: int = Field(
        6 * 3600, ge=1, description="The longest wait between two tries of one SMS."
    )


class FieldSettings(BaseModel):
    photo_dir: str = Field(
        ".waterbill/photos",
        description="Where field photos are stored, named by their SHA-256 (relative: to the"
        " working directory).",
    )
    photo_max_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest photo a technician may upload."
    )
    reading_due_days: int = Field(
        30, ge=1, description="A manually read meter is due on the round after this many days."
    )
    silent_hours: int = Field(
        24, ge=1, description="A connected meter silent this long is put on the round."
    )
    iot_match_window_s: int = Field(
        900,
        ge=0,
        description="A manual read is compared with the meter's own reading this close in time.",
    )
    iot_tolerance_l: int = Field(
        10, ge=0, description="Larger manual-vs-meter differences are accepted with a warning."
    )
    round_limit: int = Field(500, ge=1, description="Most meters one round lists.")


class MeterImportSettings(BaseModel):
    max_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="Largest meter CSV file `POST /meters/import` reads (413 beyond it).",
    )
    max_rows: int = Field(
        5000,
        ge=1,
        description="Most meter lines one CSV file may hold (422 beyond it): split bigger fleets.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WATERBILL_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: Environment = Field(
        Environment.DEVELOPMENT, description="development, test or production."
    )
    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/waterbill"),
        description="PostgreSQL/TimescaleDB URL the services connect with: in a deployment a"
        " login role in waterbill_app (a secret: it may carry the password).",
    )
    migration_database_url: SecretStr | None = Field(
        None,
        description="The database owner's URL, for `waterbill migrate` and `waterbill db`"
        " only; default: WATERBILL_DATABASE_URL.",
    )
    db_pool_size: int = Field(10, ge=1, description="Connections per process pool.")
    db_pool_min: int = Field(
        1,
        ge=0,
        description="Raw psycopg connections the API keeps open (forecasts, the SMS sender).",
    )
    db_pool_max: int = Field(
        4,
        ge=1,
        description="Most raw psycopg connections the API opens; more requests wait for one.",
    )
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET),
        description="Signs tokens and SMS codes; production wants at least"
        f" {MIN_SECRET_BYTES} random bytes.",
    )
    default_country: str = Field(
        "PG", min_length=2, max_length=2, description="ISO country of this deployment."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    log_json: bool = Field(False, description="Log one JSON object per line.")
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    rollup: RollupSettings = Field(default_factory=RollupSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    vee: VeeSettings = Field(default_factory=VeeSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    occupancy: OccupancySettings = Field(default_factory=OccupancySettings)
    field: FieldSettings = Field(default_factory=FieldSettings)
    meter_import: MeterImportSettings = Field(default_factory=MeterImportSettings)
    payments: PaymentsSettings = Field(default_factory=PaymentsSettings)
    accounting: AccountingSettings = Field(default_factory=AccountingSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _plain_postgres_scheme(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        """Accept any PostgreSQL scheme (SQLAlchemy or libpq style) and keep the libpq one."""
        if value is None:
            return None
        url = value.get_secret_value()
        for prefix in ("postgresql+psycopg://", "postgres://"):
            if url.startswith(prefix):
                return SecretStr("postgresql://" + url[len(prefix) :])
        if not url.startswith("postgresql://"):
            # The URL itself stays out of the message: it may hold the password.
            raise ValueError(f"{info.field_name} must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _native_transport_speaks_mqtt_5(self) -> Settings:
        if self.ingest.mqtt_transport == "native" and self.mqtt.protocol != "5":
            raise ValueError(
                "WATERBILL_INGEST__MQTT_TRANSPORT=native speaks MQTT 5 only: use the default"
                " `aiomqtt` transport with WATERBILL_MQTT__PROTOCOL=3.1.1"
            )
        return self

    @model_validator(mode="after")
    def _real_secrets_in_production(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET:
            raise ValueError("WATERBILL_SECRET_KEY must be set in production")
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"WATERBILL_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production"
                " (e.g. `openssl rand -hex 32`)"
            )
        if not self.auth.cookie_secure:
            raise ValueError(
                "WATERBILL_AUTH__COOKIE_SECURE=false would send the refresh cookie over plain http"
            )
        sms = self.sms
        if sms.provider is SmsProviderName.CONSOLE:
            # The console provider sends nothing and would leave codes in memory and logs.
            raise ValueError(
                "WATERBILL_SMS__PROVIDER=console sends no SMS: production needs `twilio`"
            )
        missing = [
            f"WATERBILL_SMS__{name.upper()}"
            for name, value in (
                ("twilio_account_sid", sms.twilio_account_sid),
                ("twilio_auth_token", sms.twilio_auth_token.get_secret_value()),
                ("from_number", sms.from_number),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"{', '.join(missing)} must be set in production")
        return self

    @property
    def dsn(self) -> str:
        """The database URL in clear, for the drivers only (never log it)."""
        return self.database_url.get_secret_value()

    @property
    def migration_dsn(self) -> str:
        """The owner's URL in clear (the runtime one when no separate owner URL is set)."""
        if self.migration_database_url is None:
            return self.dsn
        return self.migration_database_url.get_secret_value()

    @property
    def sqlalchemy_url(self) -> str:
        return sqlalchemy_url(self.dsn)


def sqlalchemy_url(database_url: str) -> str:
    """The same database through SQLAlchemy's psycopg 3 dialect."""
    return "postgresql+psycopg://" + database_url.removeprefix("postgresql://")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_reference() -> list[dict[str, Any]]:
    """Every setting as (env var, default, description): `waterbill settings`, the docs' page.

    Only defaults are listed, never the values in effect, so secrets cannot leak through it.
    """
    rows: list[dict[str, Any]] = []

    def walk(model: type[BaseModel], env_prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{env_prefix}{name.upper()}__")
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, SecretStr):
                # Defaults are constants of this module, never a deployment's values.
                default = default.get_secret_value()
            if isinstance(default, StrEnum):
                default = default.value
            if isinstance(default, dict):
                default = "per country: " + ", ".join(sorted(default))
            rows.append(
                {
                    "env": f"{env_prefix}{name.upper()}",
                    "default": "" if default is None else str(default),
                    "description": field.description or "",
                }
            )

    walk(Settings, "WATERBILL_")
    return rows
