"""The login role the API, the workers and ingest connect as: a member of ``waterbill_app``
(migration 0022), which may read and write rows and nothing else. Made by the owner, after the
migrations: ``waterbill db runtime-role``, ``waterbill up``, the compose ``runtime-role`` service.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from core.exceptions import InvalidInput

logger = logging.getLogger(__name__)

GROUP = "waterbill_app"
# Plain lower-case identifiers only (PostgreSQL's limit is 63 bytes): nothing to quote or confuse.
NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
MIN_PASSWORD_CHARS = 16


class RuntimeRoleError(InvalidInput):
    """The runtime role cannot be made as asked (bad name, weak password, a privileged role)."""


def ensure_runtime_login(owner_url: str, name: str, password: str) -> bool:
    """Make ``name`` a LOGIN member of ``waterbill_app`` with ``password``; True if created.

    Idempotent: an existing role gets the password (a rotation) and the membership again. A role
    with more power than rows (superuser, CREATEROLE, CREATEDB, BYPASSRLS) is refused rather than
    lowered, since it is somebody else's: the services would gain what the group role withholds.
    """
    if not NAME.fullmatch(name):
        raise RuntimeRoleError(
            f"role name {name!r} must be lower-case letters, digits and _ (at most 63),"
            " not starting with a digit"
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise RuntimeRoleError(
            f"the password of {name} must be at least {MIN_PASSWORD_CHARS} characters"
        )
    role, secret = sql.Identifier(name), sql.Literal(password)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [GROUP]).fetchone() is None:
            raise RuntimeRoleError(f"role {GROUP} is missing: run `waterbill migrate` first")
        row = conn.execute(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls"
            " FROM pg_roles WHERE rolname = %s",
            [name],
        ).fetchone()
        if row is not None and row[0]:
            raise RuntimeRoleError(f"role {name} has more than row privileges: choose another")
        with conn.transaction():
            if row is None:
                conn.execute(
                    sql.SQL(
                        "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
                        " INHERIT PASSWORD {}"
                    ).format(role, secret)
                )
            else:
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, secret))
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(GROUP), role))
    logger.info("runtime role %s %s", name, "created" if row is None else "updated")
    return row is None


def runtime_url(owner_url: str, name: str, password: str) -> str:
    """The owner's URL with the runtime role's login in its place (same host, port, database)."""
    parts = urlsplit(owner_url)
    host = parts.netloc.rpartition("@")[2]
    login = f"{quote(name, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))
