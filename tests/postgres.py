"""A real Postgres for tests: the one in REWARDFORGE_TEST_POSTGRES_URL, or a throwaway cluster.

The throwaway cluster lives in a temp dir (initdb + pg_ctl from the Debian
server package), listens on 127.0.0.1 on a free port with its socket in the
temp dir, runs with fsync off, and is stopped and deleted when the session ends.
Under pytest-xdist every worker is a session of its own, so each starts its own
cluster (its own dir and port; the dir's name says which worker it serves).
When the server binaries are missing the Postgres tests skip; install them with
``scripts/install_postgres.sh``. A server given by URL must let that role
CREATE DATABASE: the fixtures in tests/databases.py make their own databases.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_URL = "REWARDFORGE_TEST_POSTGRES_URL"
DATABASE = "rewardforge_test"
SERVER_USER = "postgres"  # the OS user the Debian package creates; also the superuser role


def find_server_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl."""
    candidates = glob.glob("/usr/lib/postgresql/*/bin")
    candidates.sort(key=lambda path: int(Path(path).parent.name), reverse=True)
    for path in candidates:
        if os.access(Path(path) / "initdb", os.X_OK) and os.access(Path(path) / "pg_ctl", os.X_OK):
            return Path(path)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayCluster:
    """One initdb'd cluster in a temp dir; ``start`` then ``stop``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.root = Path(tempfile.mkdtemp(prefix=f"rewardforge-pg-{worker}-"))
        self.data = self.root / "data"
        self.port = _free_port()
        # Postgres refuses to run as root: hand the dir to the postgres user.
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.prefix = ["runuser", "-u", SERVER_USER, "--"]

    def _run(self, *args: str) -> None:
        cmd = [*self.prefix, str(self.bin_dir / args[0]), *args[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}\n{tail}")

    def start(self) -> str:
        """Create and start the cluster and its database; return the psycopg URL."""
        data = str(self.data)
        # UTF8 whatever the machine's locale; C collation keeps initdb fast.
        encoding = ["-E", "UTF8", "--locale=C"]
        self._run("initdb", "-D", data, "-U", SERVER_USER, "-A", "trust", "--no-sync", *encoding)
        # The free port is only free until someone binds it: another worker's server or
        # any process may take it first. Then pg_ctl fails; try again on another port.
        for attempt in range(3):
            try:
                self.start_server()
                break
            except RuntimeError:
                if attempt == 2 or (self.data / "postmaster.pid").exists():
                    raise
                self.port = _free_port()
        url = f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}"
        create_database(f"{url}/postgres", DATABASE)
        return f"{url}/{DATABASE}"

    def start_server(self) -> None:
        """Start the initdb'd server (again, after ``stop_server``) on the same port."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        log = str(self.root / "server.log")
        data = str(self.data)
        self._run("pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "-t", "60", "start")

    def stop_server(self) -> None:
        """Stop the server the way an administrator does (fast shutdown), keeping its data."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        """Stop the server (fast: nothing here needs to survive) and delete the dir."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def plain_url(url: str) -> str:
    """``url`` in libpq's form (what psycopg takes), without SQLAlchemy's driver suffix."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(server_url: str, name: str) -> None:
    """CREATE DATABASE ``name`` through a connection to ``server_url``."""
    import psycopg

    with psycopg.connect(plain_url(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server_url: str, name: str) -> None:
    """DROP DATABASE ``name``, closing any connections still open to it."""
    import psycopg

    with psycopg.connect(plain_url(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A ``postgresql+psycopg://`` URL of a database the tests may write to."""
    if os.environ.get(ENV_URL):
        from app.db.session import normalize_url

        yield normalize_url(os.environ[ENV_URL])
        return
    cluster = new_cluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def new_cluster() -> ThrowawayCluster:
    """A throwaway cluster, not started yet; skips the test where none can run."""
    bin_dir = find_server_bin()
    if bin_dir is None:
        pytest.skip(
            "no Postgres server binaries under /usr/lib/postgresql/*/bin: run "
            f"scripts/install_postgres.sh or set {ENV_URL}"
        )
    if os.geteuid() == 0 and not _has_user(SERVER_USER):
        pytest.skip(f"running as root and there is no '{SERVER_USER}' OS user to run Postgres")
    return ThrowawayCluster(bin_dir)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
