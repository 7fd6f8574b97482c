"""A throwaway PostgreSQL server for tests, the demo and benchmarks: initdb in a temp dir, loopback only.

The server listens on a free loopback port and keeps its unix socket inside its own directory, so
several can run side by side and none touches the machine's PostgreSQL. The superuser has a random
password (scram over TCP), so `.url` carries credentials just as a real DATABASE_URL does. initdb and
postgres refuse to run as root: under root they run as the unprivileged `postgres` user that Debian's
package creates, and the directory is handed to it.

Given the local node's `PodNetwork`, it also listens on the host address pods reach and admits the
pods' subnet (password auth), and `pod_url` is the URL a Job pod uses.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from rollover.devcluster.controlplane import free_port
from rollover.devcluster.node import PodNetwork

#: For tests: durability buys nothing in a throwaway cluster and costs seconds per test.
FAST_SETTINGS: Mapping[str, str] = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
START_ATTEMPTS = 3
TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed, or the server could not start."""


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: pg_config, Debian's layout, then PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            candidates.append(Path(done.stdout.strip()))
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(debian, key=_major_version, reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for directory in candidates:
        if all((directory / name).is_file() for name in SERVER_BINARIES):
            return directory
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found via pg_config, "
        "/usr/lib/postgresql/*/bin or PATH: install Debian's postgresql package (scripts/bootstrap.sh does)"
    )


def _major_version(path: str) -> int:
    match = re.search(r"/postgresql/(\d+)/", path)
    return int(match.group(1)) if match else 0


class PostgresServer:
    """One private PostgreSQL cluster; `start()` (or `with`) runs it, `stop()` removes it entirely."""

    def __init__(
        self,
        *,
        settings: Mapping[str, str] = FAST_SETTINGS,
        base_dir: Path | None = None,
        pods: PodNetwork | None = None,
    ) -> None:
        self.settings = dict(settings)
        self.pods = pods
        self._base_dir = base_dir
        self._bindir = find_bindir()
        self._run_as: list[str] = []
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and PostgreSQL refuses root: create an unprivileged 'postgres' user "
                    "(Debian's postgresql package does)"
                ) from None
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self.root: Path | None = None
        self.port = 0
        self.password = secrets.token_urlsafe(18)

    @property
    def url(self) -> str:
        """postgresql:// URL of the `postgres` database as the superuser (valid while running)."""
        return self.database_url("postgres")

    def database_url(self, dbname: str) -> str:
        """postgresql:// URL of another database on this server."""
        return self._url("127.0.0.1", dbname)

    def pod_url(self, dbname: str) -> str:
        """postgresql:// URL of a database as the node's pods reach it."""
        if self.pods is None:
            raise PostgresUnavailable("not started for a pod network")
        return self._url(self.pods.host_address, dbname)

    def _url(self, host: str, dbname: str) -> str:
        if self.root is None:
            raise PostgresUnavailable("the server is not running")
        return f"postgresql://postgres:{self.password}@{host}:{self.port}/{dbname}"

    @property
    def log_file(self) -> Path:
        return self._require_root() / "server.log"

    def start(self) -> None:
        """initdb a fresh cluster in a temp dir and start it; raises PostgresUnavailable with the log."""
        if self.root is not None:
            raise PostgresUnavailable(f"already running from {self.root}")
        self.root = Path(tempfile.mkdtemp(prefix="rollover-pg-", dir=self._base_dir))
        try:
            self._initdb()
            for attempt in range(1, START_ATTEMPTS + 1):
                self.port = free_port()
                # Another process may take the port between free_port() and bind; try a new one.
                if self._pg_ctl("start", check=attempt == START_ATTEMPTS):
                    return
        except BaseException:
            self._remove()
            raise

    def restart(self) -> None:
        """Stop and start the same cluster on the same port (connections are dropped)."""
        self._pg_ctl("restart", check=True)

    def stop(self) -> None:
        """Stop the server and delete its directory; a no-op when not running."""
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            self._pg_ctl("stop", check=False)
        self._remove()

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- internals ------------------------------------------------------------------------------

    def _require_root(self) -> Path:
        if self.root is None:
            raise PostgresUnavailable("the server is not running")
        return self.root

    def _initdb(self) -> None:
        root = self._require_root()
        (root / "socket").mkdir()
        pwfile = root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._owner is not None:
            for path in (root, root / "socket", pwfile):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(root / "data"),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        if self.pods is not None:
            with (root / "data" / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.pods.subnet} scram-sha-256\n")

    def _pg_ctl(self, action: str, *, check: bool) -> bool:
        root = self._require_root()
        options = {
            "port": str(self.port),
            "listen_addresses": ",".join(["127.0.0.1", *([self.pods.host_address] if self.pods else [])]),
            "unix_socket_directories": str(root / "socket"),
            **self.settings,
        }
        args = ["-D", str(root / "data"), "-w", "-t", str(TIMEOUT_S), "-m", "fast"]
        if action != "stop":
            args += [
                "-l",
                str(root / "server.log"),
                "-o",
                " ".join(f"-c {k}={v}" for k, v in options.items()),
            ]
        return self._run("pg_ctl", *args, action, check=check)

    def _run(self, binary: str, *args: str, check: bool = True) -> bool:
        command = [*self._run_as, str(self._bindir / binary), *args]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT_S + 30,
            stdin=subprocess.DEVNULL,
            cwd=self._require_root(),
        )
        if done.returncode != 0 and check:
            raise PostgresUnavailable(
                f"{binary} {' '.join(args[-1:])} failed (exit {done.returncode}):\n"
                f"{done.stdout}{done.stderr}{self._log_tail()}"
            )
        return done.returncode == 0

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = (self._require_root() / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "server log:\n" + "\n".join(text.splitlines()[-lines:])

    def _remove(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
