"""Record every socket connection and name lookup a Python process makes, through an audit hook.

In a test process: `recorder = install()` then `with recorder.recording(): ...` and `recorder.outside()`.
Around a server: `python -m tests.support.netaudit LOG rag-arguments...` runs `rag` with every event appended to
LOG as one JSON line, so a test can read what the server did over its whole life.
An audit hook cannot be removed, so one is installed per process and only records when asked.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
from contextlib import contextmanager

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_local(host) -> bool:
    """Loopback addresses and names, a unix socket path, or no host at all (a passive lookup)."""
    if host is None or isinstance(host, (bytes, bytearray)):
        return True
    host = str(host).strip("[]").lower()
    if host in ("", *LOCAL_NAMES):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False   # any other name: looking it up is already a request to the outside


def describe(event: str, args: tuple) -> dict | None:
    """{"event", "host", "port", "local"} for a socket connect or address lookup; None for other events."""
    if event == "socket.connect":
        sock, address = args
        if sock.family == socket.AF_UNIX:
            return {"event": event, "host": str(address), "port": None, "local": True}
        host, port = address[0], address[1]
    elif event == "socket.getaddrinfo":
        host, port = args[0], args[1]
    else:
        return None
    return {"event": event, "host": str(host), "port": port, "local": is_local(host)}


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.active = False
        self._lock = threading.Lock()

    def __call__(self, event: str, args: tuple) -> None:
        if not self.active or not event.startswith("socket."):
            return
        found = describe(event, args)
        if found is not None:
            with self._lock:
                self.events.append(found)

    @contextmanager
    def recording(self):
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    def outside(self) -> list[dict]:
        return [e for e in self.events if not e["local"]]


_RECORDER: Recorder | None = None


def install() -> Recorder:
    """The process's one recorder (installed on first call)."""
    global _RECORDER
    if _RECORDER is None:
        _RECORDER = Recorder()
        sys.addaudithook(_RECORDER)
    return _RECORDER


def main(argv: list[str]) -> int:
    """python -m tests.support.netaudit LOG [rag arguments]: run rag, appending every network event to LOG."""
    log_path, rest = argv[0], argv[1:]
    log = open(log_path, "a", buffering=1, encoding="utf-8")
    lock = threading.Lock()

    def hook(event: str, args: tuple) -> None:
        if event.startswith("socket.") and (found := describe(event, args)) is not None:
            with lock:
                log.write(json.dumps(found) + "\n")

    sys.addaudithook(hook)
    from rag.cli import main as rag_main

    return rag_main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
