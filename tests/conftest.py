"""Real services for the suite: one PostgreSQL/TimescaleDB cluster and one Mosquitto broker per
test session, on free loopback ports in throwaway directories, stopped at the end.

Each database test gets its own database cloned from a migrated template (tens of milliseconds),
so tests that commit, or that let other processes write, never see each other's rows.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from core.broker_auth import API_ACCOUNT
from core.config import ApiSettings, Environment, FieldSettings, Settings
from core.db import make_async_engine
from core.local_mosquitto import LocalMosquitto
from core.local_services import PG_BIN, LocalPostgres
from core.migrate import upgrade
from tests.broker import suite_broker
from tests.jobs.workers import StartWorker, quiet_worker_env, workers
from tests.tls import TlsBroker
from tests.tls import tls_broker as make_tls_broker

TEMPLATE_DB = "waterbill_template"


def _require_binaries() -> None:
    libdir = Path("/usr/lib/postgresql/15/lib")
    if not (PG_BIN / "postgres").exists() or not list(libdir.glob("timescaledb*.so")):
        pytest.exit("PostgreSQL 15 with TimescaleDB is not installed: run scripts/install", 3)
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.exit("Mosquitto is not installed: run scripts/install", 3)


@pytest.fixture(scope="session")
def local_pg() -> Iterator[LocalPostgres]:
    _require_binaries()
    # No TimescaleDB background workers: the Apache build runs no jobs for us, and an idle
    # scheduler connected to the template would block CREATE DATABASE ... TEMPLATE.
    with LocalPostgres(
        durable=False, extra_conf={"timescaledb.max_background_workers": "0"}
    ) as server:
        yield server


@pytest.fixture(scope="session")
def local_broker() -> Iterator[LocalMosquitto]:
    """The suite's broker: logins required; ``TEST_ACCOUNT`` may publish and read any topic.

    Never reloaded, so no test issues meter logins into it: those use ``own_broker``.
    """
    _require_binaries()
    with suite_broker(reloadable=False) as broker:
        yield broker


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalMosquitto]:
    """A throwaway broker for one test that issues meter logins (rewrites its password file and
    SIGHUPs it); a crash in it shows up at its stop, in this test."""
    _require_binaries()
    with suite_broker(root=tmp_path / "own-broker") as broker:
        yield broker


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    """A throwaway broker with TLS listeners and the throwaway CA that signed them."""
    _require_binaries()
    with make_tls_broker(tmp_path / "tls") as broker:
        yield broker


@pytest.fixture(autouse=True)
def _shared_broker_survives(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test during which the session's broker died, with its exit and log, not later
    ones with "connection refused"."""
    if "local_broker" not in request.fixturenames:
        yield
        return
    broker: LocalMosquitto = request.getfixturevalue("local_broker")
    broker.check_alive()
    yield
    broker.check_alive()


@pytest.fixture(scope="session")
def template_db(local_pg: LocalPostgres) -> str:
    """A database at the latest migration, cloned by every database test."""
    upgrade(Settings(database_url=SecretStr(local_pg.url(TEMPLATE_DB))))
    with psycopg.connect(local_pg.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                sql.Identifier(TEMPLATE_DB)
            )
        )
    return TEMPLATE_DB


def create_database(local_pg: LocalPostgres, template: str | None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(local_pg.url(), autocommit=True) as conn:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(query)
    return local_pg.url(name)


def drop_database(local_pg: LocalPostgres, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(local_pg.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
        )


@pytest.fixture
def database_url(local_pg: LocalPostgres, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for this test only."""
    url = create_database(local_pg, template_db)
    yield url
    drop_database(local_pg, url)


@pytest.fixture
def empty_database_url(local_pg: LocalPostgres) -> Iterator[str]:
    """A fresh database with no schema, for migration tests."""
    url = create_database(local_pg, None)
    yield url
    drop_database(local_pg, url)


@pytest.fixture
def settings(database_url: str, local_broker: LocalMosquitto, tmp_path: Path) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=SecretStr(database_url),
        mqtt=local_broker.settings(API_ACCOUNT),
        api=ApiSettings(ready_timeout_s=2.0),
        field=FieldSettings(photo_dir=str(tmp_path / "photos")),
    )


@pytest.fixture
def start_worker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartWorker]:
    """Start real `waterbill worker` processes (``tests.jobs.workers``); stopped at the end."""
    # Set up first, so torn down after: the workers stop before their database is dropped.
    request.getfixturevalue("database_url")
    yield from workers(tmp_path)


@pytest.fixture
def job_worker(start_worker: StartWorker, database_url: str) -> None:
    """One real worker that runs only what tests defer (no schedule fires)."""
    start_worker(quiet_worker_env(database_url))


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit psycopg connection to this test's database, for arranging and asserting."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """An async SQLAlchemy session on this test's database; the test commits when it wants to."""
    engine = make_async_engine(settings)
    async with AsyncSession(engine, expire_on_commit=False) as db_session:
        yield db_session
    await engine.dispose()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app in-process, with its lifespan (pools) running."""
    from api.app import create_app

    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        yield http


@pytest.fixture
async def admin_client(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> httpx.AsyncClient:
    """``client`` signed in as an administrator, for tests of what a route does, not who may."""
    from accounts.models import Role, User
    from accounts.passwords import hash_password
    from accounts.tokens import TokenType, encode_token
    from core.countries import Language

    admin = User(
        phone="+237650000001",
        first_name="Ada",
        last_name="Admin",
        language=Language.EN,
        role=Role.ADMIN,
        is_active=True,
        password_hash=hash_password("admin password"),
    )
    session.add(admin)
    await session.commit()
    token = encode_token(admin, settings=settings, token_type=TokenType.ACCESS).token
    client.headers["Authorization"] = f"Bearer {token}"
    return client
