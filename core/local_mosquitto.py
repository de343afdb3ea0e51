"""A throwaway Mosquitto broker for tests, benchmarks and ``waterbill up`` (see
``core.local_services``), with the shipped config's logins, ACL and limits, and TLS listeners on
request.
"""

from __future__ import annotations

import logging
import os
import pwd
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from core import broker_auth
from core.broker_auth import ServiceAccount
from core.config import MqttSettings
from core.local_services import LocalServer, ServiceError, free_port, wait_for

logger = logging.getLogger(__name__)

MOSQUITTO_BIN = Path("/usr/sbin/mosquitto")


@dataclass(frozen=True)
class TlsListener:
    """A TLS listener beside the plain one (which start-up's probe and the tests keep using).

    Args:
        require_certificate: clients must present a certificate signed by ``cafile``.
    """

    certfile: Path
    keyfile: Path
    cafile: Path
    require_certificate: bool = False
    port: int = field(default_factory=free_port)

    def config_lines(self) -> list[str]:
        return [
            f"listener {self.port} 127.0.0.1",
            f"cafile {self.cafile}",
            f"certfile {self.certfile}",
            f"keyfile {self.keyfile}",
            f"require_certificate {str(self.require_certificate).lower()}",
        ]


@dataclass
class LocalMosquitto(LocalServer):
    """A Mosquitto 2 broker (MQTT v5) on a loopback port with on-disk persistence and logins.

    As in the shipped config, anonymous clients are refused unless ``allow_anonymous`` (benchmarks
    only); ``accounts`` go to its password and ACL files, meters' logins to the same password file
    (``registry.credentials``), picked up on :meth:`reload` (only a ``reloadable`` broker's).

    Mosquitto drops messages beyond ``max_queued_messages`` (1000 by default) for an offline
    persistent session without telling anyone; the bound here is raised far above any backlog the
    tests or the demo build, and kept finite so a forgotten session cannot eat the memory.
    """

    root: Path | None = None
    port: int = field(default_factory=free_port)
    max_queued_messages: int = 5_000_000
    # As docker/mosquitto.conf: payloads above 1 MiB are refused at publish.
    message_size_limit: int = 1024 * 1024
    accounts: list[ServiceAccount] = field(default_factory=broker_auth.default_accounts)
    topic_prefix: str = "wb"
    allow_anonymous: bool = False
    # False for a broker many clients share (the test session's): its settings name no password
    # or pid file, and :meth:`reload` refuses. A SIGHUP while an offline persistent session's
    # password has changed corrupts Mosquitto 2.0.11 (docs/deploy.md, "Securing the broker").
    reloadable: bool = True
    # Off: a restart forgets every session (what a broker that lost its store does).
    persistence: bool = True
    tls_listeners: list[TlsListener] = field(default_factory=list)
    _owned_root: bool = field(default=False, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def config_file(self) -> Path:
        assert self.root is not None
        return self.root / "mosquitto.conf"

    @property
    def password_file(self) -> Path:
        return self.config_file.with_name("passwd")

    @property
    def acl_file(self) -> Path:
        return self.config_file.with_name("acl")

    @property
    def pid_file(self) -> Path:
        return self.config_file.with_name("mosquitto.pid")

    def settings(self, username: str) -> MqttSettings:
        """Client settings that log in as one of the service accounts."""
        account = next(account for account in self.accounts if account.username == username)
        return MqttSettings(
            port=self.port,
            username=account.username,
            password=SecretStr(account.password),
            topic_prefix=self.topic_prefix,
            password_file=str(self.password_file) if self.reloadable else None,
            broker_pid_file=str(self.pid_file) if self.reloadable else None,
        )

    def start(self) -> LocalMosquitto:
        self._make_root("waterbill-mqtt-")
        user = pwd.getpwuid(os.geteuid()).pw_name
        logins = {account.username: account.password for account in self.accounts}
        broker_auth.set_passwords(self.password_file, logins)
        broker_auth.write_acl_file(self.acl_file, self.topic_prefix, self.accounts)
        self.config_file.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    f"allow_anonymous {str(self.allow_anonymous).lower()}",
                    f"password_file {self.password_file}",
                    f"acl_file {self.acl_file}",
                    f"pid_file {self.pid_file}",
                    # Stay the invoking user instead of dropping to `mosquitto`, who could not
                    # write the persistence file into our directory.
                    f"user {user}",
                    f"persistence {str(self.persistence).lower()}",
                    f"persistence_location {self.root}/",
                    "autosave_interval 1",
                    f"max_queued_messages {self.max_queued_messages}",
                    "max_queued_bytes 0",
                    "max_inflight_messages 0",
                    f"message_size_limit {self.message_size_limit}",
                    "set_tcp_nodelay true",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    *(line for tls in self.tls_listeners for line in tls.config_lines()),
                    "",
                ]
            )
        )
        log = open(self.log_file, "ab")
        self._process = subprocess.Popen(
            [str(MOSQUITTO_BIN), "-c", str(self.config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(lambda: broker_auth.broker_answers(self.port), "Mosquitto", 15, self._process)
        logger.info("Mosquitto listening on 127.0.0.1:%d", self.port)
        return self

    @property
    def log_file(self) -> Path:
        return self.config_file.with_name("mosquitto.log")

    def check_alive(self) -> None:
        """Raise, naming the exit and the log's tail, if the broker is no longer running.

        Raises:
            ServiceError: the broker was started and has exited since.
        """
        if self._process is not None and self._process.poll() is not None:
            raise ServiceError(self._exit_report("died"))

    def _exit_report(self, what: str) -> str:
        assert self._process is not None
        assert self._process.returncode is not None
        code = self._process.returncode
        cause = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
        return f"Mosquitto on port {self.port} {what} ({cause}); its log, {self.log_file}:\n{tail}"

    def reload(self) -> None:
        """Make the broker re-read its password and ACL files (SIGHUP).

        Raises:
            ServiceError: the broker is not ``reloadable``.
        """
        if not self.reloadable:
            raise ServiceError("this broker is shared and never reloaded: start an own one")
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)

    def stop(self, kill: bool = False) -> None:
        """Stop the broker; a clean stop saves its persistence file, ``kill=True`` does not.

        Raises:
            ServiceError: the broker had died, or crashed while stopping (its log is kept).
        """
        if self._process is None:
            return
        process, died = self._process, self._process.poll() is not None
        if not died:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            process.wait(timeout=15)
        try:
            if died or (not kill and process.returncode != 0):
                raise ServiceError(self._exit_report("had died" if died else "crashed on stop"))
        finally:
            self._process = None

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()
