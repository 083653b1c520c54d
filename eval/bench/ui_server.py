"""Start the real `rag ui` on a free loopback port, wait until it answers, and always stop it.

Used by the browser tests and the load test. With `audit_log`, the server runs under tests.support.netaudit and
every socket connection and address lookup it makes is appended to that file.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class UiServer:
    url: str
    proc: subprocess.Popen
    log: Path


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS), read from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@contextmanager
def running_ui(home: Path, *, env: dict | None = None, audit_log: Path | None = None,
               start_timeout_s: float = 300) -> Iterator[UiServer]:
    """`rag ui` with RAG_HOME=home (ingesting the bundled abstracts first if its store is empty); `env`
    adds variables, or removes those given as None."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {}), "RAG_HOME": str(home)}
    env = {k: v for k, v in env.items() if v is not None}
    command = ([sys.executable, "-m", "tests.support.netaudit", str(audit_log)] if audit_log
               else [str(Path(sys.executable).with_name("rag"))])
    if audit_log:
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    log_path = Path(home) / "ui.log"
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*command, "ui", "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=home, start_new_session=True)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"rag ui exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"rag ui did not answer within {start_timeout_s} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(2)
        yield UiServer(url, proc, log_path)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
