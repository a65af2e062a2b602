"""Real processes for tests (importable: tests/ is on pytest's pythonpath): the CLI run in its
own process (with the tiny network registered), a `serve` process, and another writer's lock."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

TINY_CLI = Path(__file__).resolve().parent / "tiny_cli.py"


def cli_command(*args: object) -> list[str]:
    """The argv of `productlens ARGS` with the tiny test network registered."""
    return [sys.executable, str(TINY_CLI), *(str(a) for a in args)]


def run_cli(*args: object, env: dict[str, str] | None = None, timeout: float = 300,
            prefix: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Run a CLI command to its end; `prefix` runs it under another program (setpriv, ...)."""
    return subprocess.run([*prefix, *cli_command(*args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """A `productlens serve` process on a loopback port."""

    def __init__(self, catalog: Path, *, api_key: str = "fault-key", env: dict[str, str] | None = None) -> None:
        self.port, self.api_key = free_port(), api_key
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            cli_command("--catalog", catalog, "-q", "serve", "--host", "127.0.0.1", "--port", self.port),
            env={**os.environ, "PRODUCTLENS_API_KEY": api_key, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not come up")
            time.sleep(0.1)

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.api_key}, timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> float:
        """Send `sig` and wait for the process to end; the seconds that took."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return time.monotonic() - started


@contextmanager
def serving(catalog: Path, **options) -> Iterator[ServeProcess]:
    server = ServeProcess(catalog, **options)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@contextmanager
def write_lock_held(catalog: Path) -> Iterator[None]:
    """Hold the catalogue's write lock as another writer would (a `models use` running, say)."""
    with open(catalog / ".write.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def kill_after(argv: list[str], delay: float) -> int | None:
    """Run `argv` and SIGKILL it after `delay` seconds; None, or its exit code (0) if it ended first."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        code = proc.wait(timeout=delay)
        assert code == 0, proc.stderr.read()
        return code
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
    finally:
        proc.stderr.close()


def timed_run(argv: list[str]) -> float:
    """Run `argv` to its end (it must succeed); the seconds it took: where kill points are drawn."""
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def copy_catalogue(template: Path, folder: Path) -> Path:
    """A test's own copy of a session-wide catalogue."""
    shutil.copytree(template, folder / "shop")
    return folder / "shop"


def report(name: str, **figures: object) -> None:
    """One line of figures for docs/reliability.md (shown with `pytest -s`)."""
    print(f"\n[faults] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


def processes_matching(text: str) -> list[int]:
    """Live (not zombie) processes whose command line mentions `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def children() -> list[int]:
    """Live child processes of this test process (but multiprocessing's resource tracker, which
    the first spawned process starts and which lives as long as this process does)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"resource_tracker" not in (entry / "cmdline").read_bytes():
            found.append(int(entry.name))
    return found


def wait_until_gone(probe, timeout: float = 20.0) -> list[int]:
    """What `probe()` still finds after up to `timeout` seconds (processes take a moment to exit)."""
    deadline = time.monotonic() + timeout
    while (left := probe()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left
