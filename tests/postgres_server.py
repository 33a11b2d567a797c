"""A throwaway PostgreSQL server for tests: initdb and pg_ctl in a temporary folder, on a free local port.

Found on PATH or in Debian's /usr/lib/postgresql/*/bin (.ci/run installs Debian's postgresql when it is
missing). PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user (else ``nobody``)
through setpriv. ``start()`` raises ``Unavailable`` with the reason when any of this is missing, so a test can
skip saying why.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class Unavailable(RuntimeError):
    """No PostgreSQL server could be started here; the message says why."""


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``server = PostgresServer.start()``; ``server.url``; ``server.stop()``, ``server.restart()``,
    ``server.remove()``."""

    def __init__(self, folder: Path, port: int, prefix: list[str], pg_ctl: str):
        self.folder, self.port, self.prefix, self.pg_ctl = folder, port, prefix, pg_ctl
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    @classmethod
    def start(cls) -> PostgresServer:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise Unavailable("PostgreSQL's initdb/pg_ctl not found (install Debian's postgresql, as .ci/run does)")
        if shutil.which("setpriv") is None and os.geteuid() == 0:
            raise Unavailable("running as root and setpriv is missing: PostgreSQL will not run as root")
        folder = Path(tempfile.mkdtemp(prefix="mlplab-pg-"))
        prefix: list[str] = []
        if os.geteuid() == 0:  # the server runs as an unprivileged user, who must own its folder
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                user = pwd.getpwnam("nobody")
            os.chown(folder, user.pw_uid, user.pw_gid)
            prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
        server = cls(folder, _free_port(), prefix, pg_ctl)
        server._run([initdb, "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        server.restart()
        return server

    def _run(self, argv: list[str]) -> None:
        try:
            done = subprocess.run([*self.prefix, *argv], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise Unavailable(f"{Path(argv[0]).name} failed: {e}") from None
        if done.returncode != 0:
            raise Unavailable(f"{Path(argv[0]).name} failed: {(done.stderr or done.stdout).strip()[-300:]}")

    def restart(self) -> None:
        """Start the server (again, on the same port and data)."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run([self.pg_ctl, "-D", str(self.folder / "data"), "-o", options, "-l", str(self.folder / "log"),
                   "-w", "-t", "30", "start"])

    def stop(self) -> None:
        """Stop the server at once, as a crash or a lost machine would (``-m immediate``)."""
        self._run([self.pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"])

    def remove(self) -> None:
        try:
            self.stop()
        except Unavailable:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)
