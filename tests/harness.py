"""Harness for the cross-package tests: the test guest and a running `cloud-hypervisor`.

The guest (kernel, bzImage, initramfs) comes from `CH_GUEST_DIR`, the
project's own build (`build/guest`, made by `scripts/dev_cli.sh build-guest`)
or the prebuilt one in `../shared/guest`, in that order.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import hashlib
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUEST_CMDLINE = (ROOT / "scripts" / "guest" / "cmdline").read_text().strip()
BOOT_TIMEOUT = 240.0


@dataclass(frozen=True)
class Guest:
    folder: Path
    vmlinux: Path
    bzimage: Path
    initramfs: Path

    def console_cmdline(self, *extra: str) -> str:
        """The known-good cmdline without `quiet`: the kernel logs its boot on the console."""
        words = [word for word in GUEST_CMDLINE.split() if word != "quiet"]
        return " ".join([*words, *extra])

    def cmdline(self, script: str | None = None, *extra: str) -> str:
        """The known-good cmdline, plus `guest.cmd64=` running `script` in the guest."""
        parts = [GUEST_CMDLINE, *extra]
        if script is not None:
            parts.append("guest.cmd64=" + base64.b64encode(script.encode()).decode())
        return " ".join(parts)


def script_disk(path: Path, script: str) -> Path:
    """An ext4 disk holding `script` as run.sh, for the guest's `guest.script=/dev/vdX`
    knob: a script too long for the kernel's 2 KiB command line as guest.cmd64."""
    folder = path.with_suffix(".d")
    folder.mkdir()
    (folder / "run.sh").write_text(script)
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(folder), str(path), "8M"],
        check=True,
        capture_output=True,
    )
    return path


def _guest_folders(*first: str | None) -> Iterator[Path]:
    """Where a guest may be, in order: `first`, $CH_GUEST_DIR, build/guest, ../shared/guest."""
    for candidate in (
        *first,
        os.environ.get("CH_GUEST_DIR"),
        ROOT / "build" / "guest",
        ROOT.parent / "shared" / "guest",
    ):
        if candidate:
            yield Path(candidate)


def find_guest() -> Guest | None:
    for folder in _guest_folders():
        files = [folder / name for name in ("vmlinux", "bzImage", "initramfs.cpio")]
        if all(path.is_file() for path in files):
            return Guest(folder, *files)
    return None


# What the ACPI tests need of vmlinux-acpi beyond ACPI (scripts/guest/config-acpi.fragment).
ACPI_KERNEL_OPTIONS = ("CONFIG_ACPI_BUTTON=y", "CONFIG_X86_64_ACPI_NUMA=y", "CONFIG_DMI_SYSFS=y")


def find_acpi_kernel() -> Path | None:
    """A `vmlinux-acpi` built with the power button, NUMA and DMI (its .config says so):
    from $CH_ACPI_GUEST_DIR (scripts/dev_cli.sh tests finds or builds one), then the
    places the guest comes from."""
    for folder in _guest_folders(os.environ.get("CH_ACPI_GUEST_DIR")):
        kernel, config = folder / "vmlinux-acpi", folder / "vmlinux-acpi.config"
        if kernel.is_file() and config.is_file():
            options = set(config.read_text().splitlines())
            if all(option in options for option in ACPI_KERNEL_OPTIONS):
                return kernel
    return None


def vmm_executable(name: str = "cloud-hypervisor") -> str:
    """`cloud-hypervisor` (or `ch-remote`) installed next to this interpreter (nox's)."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"the {name} command is not installed"
    return found


class VmmProcess:
    """A `cloud-hypervisor` process whose serial console (stdout) is read line by line."""

    def __init__(self, args: list[str], *, netns: str | None = None) -> None:
        self.args = [vmm_executable(), *args]
        self.started = time.monotonic()
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.process = subprocess.Popen(
            [*prefix, *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self._queue.put(raw.decode(errors="replace").rstrip("\r\n"))
        self._queue.put(None)

    def wait_for(self, marker: str, timeout: float = BOOT_TIMEOUT) -> str:
        """The first console line containing `marker`; fails with the console so far."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                line = ""
                if remaining <= 0:
                    self.kill()
                    pytest.fail(
                        f"no {marker!r} within {timeout:.0f} s; console:\n" + self.console()
                    )
            if line is None:
                pytest.fail(f"the VMM exited before {marker!r}; console:\n{self.console()}")
            if line:
                self.lines.append(line)
                if marker in line:
                    return line

    def wait_for_all(self, markers: list[str], timeout: float = BOOT_TIMEOUT) -> dict[str, str]:
        """For each marker, the first console line (seen so far or later) containing it,
        all within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        found = {m: line for m in markers for line in reversed(self.lines) if m in line}
        for marker in markers:
            if marker not in found:
                found[marker] = self.wait_for(marker, max(deadline - time.monotonic(), 0.01))
                for other in markers:  # lines read meanwhile may hold later markers
                    if other not in found:
                        hits = [line for line in self.lines if other in line]
                        if hits:
                            found[other] = hits[0]
        return found

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def wait(self, timeout: float = 60.0) -> int:
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the VMM did not exit within {timeout:.0f} s; console:\n{self.console()}")
        self._reader.join(5)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line:
                self.lines.append(line)
        return status

    def terminate(self) -> int:
        """SIGTERM, as a user's Ctrl-C or an orchestrator would stop it; its exit status."""
        self.process.terminate()
        return self.wait()

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")

    def console(self) -> str:
        return "\n".join(self.lines[-60:])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


@contextmanager
def network_namespace(tag: str) -> Iterator[str]:
    """A network namespace of the test's own (`ip netns add`), deleted afterwards:
    its taps and traffic never touch the host's network."""
    name = f"ch-{tag}-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def listen_in(netns: str, port: int) -> socket.socket:
    """A TCP socket listening on `port` of every address inside `netns` (the
    taps there, which the VMM creates later, and nothing else).

    A socket belongs to the namespace it was made in, whatever thread uses it
    later: a short-lived thread enters the namespace (setns(2) moves only the
    calling thread) and makes it there."""
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            with open(f"/run/netns/{netns}", "rb") as handle:
                if _libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, f"setns({netns}): {os.strerror(code)}")
            server = socket.create_server(("0.0.0.0", port))
            made.append(server)
        except BaseException as error:
            made.append(error)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


class TcpPeer:
    """The host end of one guest TCP transfer: receives or sends `size` bytes on
    one connection in a thread of its own, and keeps the md5 of what passed."""

    def __init__(self, server: socket.socket, *, send: bytes | None = None, size: int = 0) -> None:
        self.server = server
        self.payload = send
        self.size = len(send) if send is not None else size
        self.md5: str | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.server.settimeout(BOOT_TIMEOUT * 4)
            connection, _ = self.server.accept()
            with connection:
                started = time.monotonic()
                if self.payload is not None:
                    connection.sendall(self.payload)
                    digest = hashlib.md5(self.payload)
                else:
                    digest = hashlib.md5()
                    left = self.size
                    while left > 0:
                        chunk = connection.recv(min(left, 1 << 16))
                        if not chunk:
                            break
                        digest.update(chunk)
                        left -= len(chunk)
                    if left:
                        raise OSError(errno.EPIPE, f"the guest closed {left} bytes short")
                self.seconds = time.monotonic() - started
                self.md5 = digest.hexdigest()
        except BaseException as error:
            self.error = error
        finally:
            self.server.close()

    def result(self, timeout: float = 60.0) -> str:
        """The md5 of the bytes that passed; raises what went wrong."""
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        assert self.md5 is not None, "the guest never connected"
        return self.md5
