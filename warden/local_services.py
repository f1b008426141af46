"""Local stand-ins for the demo, the tests and CI: Azurite (the real Azure Table Storage emulator, npm).

    with start_azurite() as azurite:
        env = {"DRIFTWARDEN_STORAGE_CONNECTION_STRING": azurite.connection_string}

Azurite listens on 127.0.0.1 only, keeps its data in memory (or in `location`), and sends no telemetry.
`npm ci` (or `npm install --no-audit --no-fund`) in the repository root installs the pinned version.
"""
from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The emulator's well-known development account (public, documented by Microsoft; not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class LocalServiceError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def connection_string(port: int, host: str = "127.0.0.1") -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint=http://{host}:{port}/{DEV_ACCOUNT};")


def azurite_table_binary() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "azurite-table"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-table")
    if found:
        return found
    raise LocalServiceError("Azurite is not installed: run `npm ci --no-audit --no-fund` in the repository root "
                            "(package.json pins it)")


class Azurite:
    """One azurite-table process on 127.0.0.1. Use as a context manager or call start()/stop()."""

    def __init__(self, port: int | None = None, location: str | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self.location = location
        self._process: subprocess.Popen | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.port, self.host)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 20.0) -> "Azurite":
        if self.running:
            return self
        command = [azurite_table_binary(), "--tableHost", self.host, "--tablePort", str(self.port),
                   "--disableTelemetry", "--skipApiVersionCheck", "--silent"]
        command += ["--location", self.location] if self.location else ["--inMemoryPersistence"]
        self._process = subprocess.Popen(command, cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         start_new_session=True)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = (self._process.stderr.read() or b"").decode(errors="replace").strip()
                self._process = None
                raise LocalServiceError(f"azurite-table exited at start: {error or 'no output'}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise LocalServiceError(f"azurite-table did not listen on {self.host}:{self.port} within {timeout} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_azurite(port: int | None = None, location: str | None = None) -> Azurite:
    """Start Azurite for `make demo` (stopped on exit); `.connection_string` is what
    DRIFTWARDEN_STORAGE_CONNECTION_STRING takes."""
    return Azurite(port=port, location=location or os.environ.get("DRIFTWARDEN_AZURITE_LOCATION") or None).start()
