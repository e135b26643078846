"""REST API: time from exec to the first `vmm.ping` answer, and `vm.info` requests per second.

* ping ready: from just before `cloud-hypervisor --api-socket` is started until
  a `vmm.ping` on the socket is answered 200 (polled every 0.5 ms), median of
  N runs; beside it, how long the same interpreter takes to run nothing
  (`python -c pass`), the floor every Python VMM pays on this machine;
* vm.info: requests answered per second for 2 s with a booted VM, one
  connection per request (as ch-remote does) and on one kept-alive connection.

Goal (issue): ping ready <= 100 ms after process start.
Environment: CH_BENCH_API_RUNS (default 10).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vmm.testing import write_counter_kernel

BIN = Path(sys.executable).parent
RUNS = int(os.environ.get("CH_BENCH_API_RUNS", "10"))
PING = b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n"


def _request(path: str, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall(data)
        return _read_one(sock)


def _read_one(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        body += sock.recv(65536)
    return head


def _start(path: str, *extra: str) -> tuple[subprocess.Popen[bytes], float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "cloud-hypervisor"), "--api-socket", f"path={path}", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            if _request(path, PING).startswith(b"HTTP/1.1 200"):
                return process, time.perf_counter() - started
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError("the VMM exited before answering")
        time.sleep(0.0005)


def _stop(path: str, process: subprocess.Popen[bytes]) -> None:
    _request(path, b"PUT /api/v1/vmm.shutdown HTTP/1.1\r\nHost: localhost\r\n\r\n")
    process.wait(30)


def ping_ready(folder: Path) -> list[float]:
    times = []
    for run in range(RUNS):
        path = str(folder / f"ping{run}.sock")
        process, elapsed = _start(path)
        times.append(elapsed)
        _stop(path, process)
    return times


def interpreter_floor() -> list[float]:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return times


def info_rate(folder: Path) -> tuple[float, float]:
    kernel = folder / "counter.elf"
    write_counter_kernel(kernel, delay=100_000)
    path = str(folder / "info.sock")
    process, _ = _start(path)
    config = json.dumps({"payload": {"kernel": str(kernel)}, "memory": {"size": 64 << 20}})
    _request(
        path,
        f"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: {len(config)}\r\n\r\n{config}".encode(),
    )
    _request(path, b"PUT /api/v1/vm.boot HTTP/1.1\r\n\r\n")
    info = b"GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\n\r\n"
    count, deadline = 0, time.perf_counter() + 2.0
    while time.perf_counter() < deadline:
        assert _request(path, info).startswith(b"HTTP/1.1 200")
        count += 1
    per_connection = count / 2.0
    count, deadline = 0, time.perf_counter() + 2.0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        while time.perf_counter() < deadline:
            sock.sendall(info)
            assert _read_one(sock).startswith(b"HTTP/1.1 200")
            count += 1
    kept_alive = count / 2.0
    _stop(path, process)
    return per_connection, kept_alive


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        floor = interpreter_floor()
        ready = ping_ready(folder)
        per_connection, kept_alive = info_rate(folder)
    print(f"bench_api: {RUNS} runs, load average {os.getloadavg()[0]:.2f}")
    print(
        f"  ping ready after exec      median {statistics.median(ready) * 1e3:7.1f} ms"
        f"   min {min(ready) * 1e3:6.1f} ms   (goal <= 100 ms)"
    )
    print(
        f"  python -c pass (the floor) median {statistics.median(floor) * 1e3:7.1f} ms"
        f"   min {min(floor) * 1e3:6.1f} ms"
    )
    print(f"  vm.info, a connection each {per_connection:8.0f} requests/s")
    print(f"  vm.info, kept alive        {kept_alive:8.0f} requests/s")


if __name__ == "__main__":
    main()
