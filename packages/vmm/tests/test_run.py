"""One run path: `vmm.run` drives the command line's VM and the API's through one control loop.

The VMs here are fakes (the control loop's `RunningVm` protocol), so the
run path's decisions are checked without /dev/kvm: the exit status of each
way a VM ends, signals, `--no-shutdown`, the events, and that a VM booted
from the command line and one booted by `vm.boot` are launched and stopped
alike. `run()` takes SIGINT/SIGTERM, so these tests run in the main thread.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import vmm
from vmm.api.actions import Action, ControlError, VmActionError
from vmm.config import EventMonitorConfig, VmConfig, VmParams, parse_vm_config
from vmm.errors import VmmError
from vmm.lifecycle import StopReason
from vmm.testing import write_counter_kernel
from vmm.testing.fake_vm import FakeVm, Guests, keeps_running

# A real (tiny) kernel: vm.boot checks the config, files included, before launching.
_KERNEL_DIR = tempfile.TemporaryDirectory(prefix="test-run-")
_KERNEL = Path(_KERNEL_DIR.name) / "counter.elf"
write_counter_kernel(_KERNEL)
CONFIG = parse_vm_config(VmParams(kernel=str(_KERNEL), memory="size=64M"))


def ends_with(reason: StopReason, detail: str = "") -> Callable[[FakeVm], None]:
    return lambda vm: vm.end(reason, detail)


def raises_signal(signum: int) -> Callable[[FakeVm], None]:
    return lambda vm: signal.raise_signal(signum)


# An action, or one with its body, or something the client does in between.
Request = Action | tuple[Action, object] | Callable[[], object]


class Client:
    """An API service stand-in: once attached, a thread sends `requests` in order
    (after the event `after`, if given) and keeps the answers."""

    def __init__(self, *requests: Request, after: threading.Event | None = None) -> None:
        self._requests = requests
        self._after = after
        self.answers: list[object] = []
        self.closed = False
        self._thread: threading.Thread | None = None

    def attach(self, submit: Callable[[Action, object], object]) -> None:
        def send() -> None:
            if self._after is not None:
                self._after.wait(10)
            for request in self._requests:
                if callable(request):
                    request()
                    continue
                action, body = request if isinstance(request, tuple) else (request, None)
                try:
                    self.answers.append(submit(action, body))
                except ControlError as error:
                    self.answers.append(error)

        self._thread = threading.Thread(target=send, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.closed = True
        if self._thread is not None:
            self._thread.join(10)


def events(path: Path) -> list[tuple[str, str]]:
    text = path.read_text().strip()
    return [(e["source"], e["event"]) for e in map(json.loads, text.split("\n\n")) if text]


# Exit status of the plain command (no API socket) -------------------------------------


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (StopReason.GUEST_RESET, 0),
        (StopReason.GUEST_SHUTDOWN, 0),
        (StopReason.GUEST_CRASH, 1),
        (StopReason.ERROR, 1),
    ],
)
def test_how_the_guest_ends_is_the_exit_status(reason: StopReason, status: int) -> None:
    guests = Guests(ends_with(reason))
    assert vmm.run(CONFIG, launcher=guests) == status
    assert len(guests.launched) == 1


def test_without_the_api_a_guest_reset_ends_the_vmm_instead_of_rebooting() -> None:
    guests = Guests(ends_with(StopReason.GUEST_RESET), keeps_running)
    assert vmm.run(CONFIG, launcher=guests) == 0
    assert len(guests.launched) == 1


def test_a_failing_vm_logs_its_error(caplog: pytest.LogCaptureFixture) -> None:
    guests = Guests(ends_with(StopReason.ERROR, "vCPU 0: cannot run on host CPUs 4095"))
    assert vmm.run(CONFIG, launcher=guests) == 1
    assert "vCPU 0: cannot run on host CPUs 4095" in caplog.text


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_the_vm_with_status_0(signum: int) -> None:
    guests = Guests(raises_signal(signum))
    assert vmm.run(CONFIG, launcher=guests) == 0
    assert guests.launched[0].stopped_by_vmm


def test_sigusr2_has_the_vcpus_report_their_state() -> None:
    guests = Guests(keeps_running)

    def send_sigusr2() -> None:
        main = threading.main_thread().ident
        assert main is not None
        signal.pthread_kill(main, signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while guests.launched[0].reports == 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    # vm.info answered: the VM runs and the loop serves; then the signal, then the end.
    client = Client(Action.INFO, send_sigusr2, Action.VMM_SHUTDOWN)
    assert vmm.run(CONFIG, api=client, launcher=guests) == 0
    assert guests.launched[0].reports == 1


def test_a_sigterm_as_the_loop_goes_idle_still_ends_the_vmm_at_once() -> None:
    """Right after an answer the loop is about to block on its inbox: a signal there must
    not wait for the next request (here the fallback `vmm.shutdown`, 5 s later)."""
    guests = Guests(keeps_running)

    def send_sigterm() -> None:
        main = threading.main_thread().ident
        assert main is not None
        signal.pthread_kill(main, signal.SIGTERM)

    client = Client(Action.INFO, send_sigterm, lambda: guests.stopped.wait(5), Action.VMM_SHUTDOWN)
    started = time.monotonic()
    assert vmm.run(CONFIG, api=client, launcher=guests) == 0
    assert time.monotonic() - started < 4
    assert isinstance(client.answers[-1], VmActionError)  # the VMM had already ended


def test_the_signal_handlers_are_given_back_when_the_vmm_ends() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)}
    vmm.run(CONFIG, launcher=Guests(ends_with(StopReason.GUEST_SHUTDOWN)))
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_vm_that_cannot_be_built_raises_the_vmms_own_error() -> None:
    def cannot_build(config: VmConfig) -> FakeVm:
        raise VmmError("no payload: give --kernel or --firmware")

    with pytest.raises(VmmError, match=r"^no payload"):
        vmm.run(CONFIG, launcher=cannot_build)
    with pytest.raises(VmmError, match=r"^no payload"):
        vmm.run(CONFIG, launcher=cannot_build, api=Client())


def test_no_shutdown_keeps_the_vmm_up_after_the_guest_shuts_down(tmp_path: Path) -> None:
    guests = Guests(ends_with(StopReason.GUEST_SHUTDOWN))
    client = Client(Action.INFO, Action.VMM_SHUTDOWN, after=guests.stopped)
    monitor = EventMonitorConfig(path=str(tmp_path / "events"))
    status = vmm.run(CONFIG, api=client, event_monitor=monitor, no_shutdown=True, launcher=guests)
    assert status == 0
    info = client.answers[0]
    assert isinstance(info, dict)
    assert info["state"] == "Created"
    assert events(tmp_path / "events")[-3:] == [
        ("vm", "shutdown"),
        ("vm", "deleted"),
        ("vmm", "shutdown"),
    ]


# The API and the command line: one path -------------------------------------------------


def test_with_the_api_a_guest_reset_reboots_the_vm_from_the_same_config(tmp_path: Path) -> None:
    guests = Guests(ends_with(StopReason.GUEST_RESET), ends_with(StopReason.GUEST_SHUTDOWN))
    monitor = EventMonitorConfig(path=str(tmp_path / "events"))
    client = Client()
    assert vmm.run(CONFIG, api=client, event_monitor=monitor, launcher=guests) == 0
    assert [vm.config for vm in guests.launched] == [CONFIG, CONFIG]
    assert events(tmp_path / "events") == [
        ("vmm", "starting"),
        ("vm", "booting"),
        ("vm", "booted"),
        ("vm", "rebooting"),
        ("vm", "rebooted"),
        ("vm", "shutdown"),
        ("vm", "deleted"),
        ("vmm", "shutdown"),
    ]
    assert client.closed


def test_the_command_lines_vm_and_vm_boots_are_launched_and_reported_alike(
    tmp_path: Path,
) -> None:
    """The same launcher, the same events, the same stop and the same exit status."""

    def run(config: VmConfig | None, *requests: Request) -> tuple[FakeVm, list[tuple[str, str]]]:
        guests = Guests(keeps_running)
        monitor = EventMonitorConfig(path=str(tmp_path / f"events-{len(requests)}"))
        client = Client(*requests, Action.VMM_SHUTDOWN)
        assert vmm.run(config, api=client, event_monitor=monitor, launcher=guests) == 0
        (vm,) = guests.launched
        return vm, events(Path(monitor.path or ""))

    from_command_line, command_line_events = run(CONFIG)
    from_api, api_events = run(None, (Action.CREATE, CONFIG), Action.BOOT)
    assert from_command_line.config == from_api.config == CONFIG
    assert command_line_events == api_events
    assert command_line_events[:3] == [("vmm", "starting"), ("vm", "booting"), ("vm", "booted")]
    assert from_command_line.stopped_by_vmm
    assert from_api.stopped_by_vmm


def test_a_vm_boot_that_fails_is_answered_and_the_vmm_serves_on() -> None:
    def cannot_build(config: VmConfig) -> FakeVm:
        raise VmmError("KVM_CREATE_VM failed")

    client = Client((Action.CREATE, CONFIG), Action.BOOT, Action.VMM_SHUTDOWN)
    assert vmm.run(None, api=client, launcher=cannot_build) == 0
    refused = client.answers[1]
    assert isinstance(refused, VmActionError)
    assert refused.chain[-1] == "KVM_CREATE_VM failed"


# Start-up cost --------------------------------------------------------------------------


def test_the_run_path_loads_neither_the_api_server_nor_kvm_before_it_boots() -> None:
    loaded = _modules_after("import vmm; vmm.run")
    assert {"vmm.runner", "vmm.control"} <= loaded
    assert not {name for name in loaded if name.startswith(("vmm.api.s", "vmm.api.r"))}
    assert not {"vmm.launch", "vmm.vm", "kvm_ioctls"} & loaded


def _modules_after(statement: str) -> set[str]:
    """The modules `statement` loads in a fresh interpreter, beyond what it starts with."""
    code = f"import sys; before = set(sys.modules); {statement}; print(*set(sys.modules) - before)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(shown.stdout.split())
