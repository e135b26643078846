"""The VMM's control loop: one VM's lifecycle, driven by API requests and guest events.

As in Cloud Hypervisor, every request is served by one thread (the main
thread, which owns signal handling and starts vCPUs), in arrival order:
`submit()` from any thread queues a request and waits for its answer, and the
VM's own stop (guest reset, guest shutdown, failure) arrives through the same
queue. State follows CH: `vm.create` stores a config (Created), `vm.boot`
builds and starts the VM (Running), `vm.pause`/`vm.resume` park and release
the vCPUs (Paused/Running), `vm.shutdown` frees the VM (back to Created),
`vm.reboot` and a guest reset rebuild it from the same config, `vm.delete`
forgets the config and `vmm.shutdown` ends the loop.

The plain command (no API socket) runs this same loop (`vmm.runner`): its VM
is created and booted as by `vm.create` and `vm.boot`, and stopped and
reported the same way; only a guest reset ends the loop there (status 0)
instead of rebooting (`exit_on_reset`). Each VM is built by the launcher
(`vmm.launch.LaunchedVm` unless one is injected, e.g. a fake in tests).
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from vmm.api.actions import (
    CONFIG_EDITS,
    NEEDS_RUNNING_VM,
    NEVER_SUPPORTED,
    VM_ALREADY_CREATED,
    VM_NOT_RUNNING,
    Action,
    ControlError,
    NotSupportedError,
    VmActionError,
    VmConfigError,
    VmMissingConfigError,
    VmNotCreatedError,
    VmStateError,
)
from vmm.lifecycle import StopEvent, StopReason

if TYPE_CHECKING:
    from vmm.config import MemoryConfig, VmConfig
    from vmm.events import EventMonitor

__all__ = [
    "Action",
    "ControlError",
    "NotSupportedError",
    "RunningVm",
    "VmActionError",
    "VmNotCreatedError",
    "VmState",
    "VmStateError",
    "Vmm",
]

log = logging.getLogger(__name__)

# How long a signal (SIGTERM, SIGINT) can wait for its Python handler: one that
# arrives just before the loop blocks on its inbox is only handled when the loop
# next wakes, so the loop wakes at least this often.
_SIGNAL_LATENCY = 0.25


class VmState(enum.Enum):
    """`vm.info`'s state (CH's VmState, as its JSON spells it)."""

    CREATED = "Created"
    RUNNING = "Running"
    SHUTDOWN = "Shutdown"
    PAUSED = "Paused"


class RunningVm(Protocol):
    """A booted VM as the control loop drives it (`vmm.launch.LaunchedVm`, or a fake)."""

    def start(self) -> None: ...
    def wait(self, timeout: float | None = None) -> StopEvent | None: ...
    def stop(self) -> StopEvent: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def counters(self) -> dict[str, dict[str, int]]: ...
    def device_tree(self) -> dict[str, dict[str, object]]: ...
    def report_vcpu_states(self) -> None: ...
    def power_button(self) -> None: ...


# Builds a VM from a config, not started yet (`vmm.launch.LaunchedVm` unless injected).
Launcher = Callable[["VmConfig"], RunningVm]


class _Reply:
    """Where the control thread leaves one request's answer for the waiting thread."""

    __slots__ = ("_done", "error", "value")

    def __init__(self) -> None:
        self._done = threading.Event()
        self.value: object = None
        self.error: ControlError | None = None

    def set(self, value: object = None, error: ControlError | None = None) -> None:
        self.value, self.error = value, error
        self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def result(self) -> object:
        if self.error is not None:
            raise self.error
        return self.value


@dataclass(frozen=True)
class _Request:
    action: Action
    body: object = None
    reply: _Reply | None = field(default=None, compare=False)


@dataclass(frozen=True)
class _VmStopped:
    vm: RunningVm
    event: StopEvent


class Vmm:
    """The VMM of one VM: `run()` serves requests in the calling (main) thread until shutdown."""

    def __init__(
        self,
        *,
        events: EventMonitor | None = None,
        launcher: Launcher | None = None,
        no_shutdown: bool = False,
        exit_on_reset: bool = False,
        start_time: float | None = None,
    ) -> None:
        self._events = events
        self._start_time = time.monotonic() if start_time is None else start_time
        self._launcher = launcher if launcher is not None else self._launch
        self._no_shutdown = no_shutdown
        self._exit_on_reset = exit_on_reset
        self._inbox: queue.SimpleQueue[_Request | _VmStopped] = queue.SimpleQueue()
        self._config: VmConfig | None = None
        self._vm: RunningVm | None = None
        self._paused = False
        self._exit_status: int | None = None
        self._running = False

    # ------------------------------------------------------------ any thread
    def submit(self, action: Action, body: object = None) -> object:
        """Queue a request and wait for its answer; raises the ControlError it failed with."""
        reply = _Reply()
        self._inbox.put(_Request(action, body, reply))
        while not reply.wait(0.5):
            if self._exit_status is not None and not self._running:
                raise VmActionError(action.value, "the VMM has shut down")
        return reply.result()

    def request_shutdown(self, reason: str = "") -> None:
        """Ask for `vmm.shutdown` without waiting (safe in a signal handler)."""
        self._inbox.put(_Request(Action.VMM_SHUTDOWN, reason or None))

    def report_vcpu_states(self) -> None:
        """Have the running VM's vCPUs log their registers (SIGUSR2; safe in a signal handler)."""
        vm = self._vm
        if vm is not None:
            vm.report_vcpu_states()

    # ------------------------------------------------------------ control thread
    def run(self, config: VmConfig | None = None) -> int:
        """Serve until `vmm.shutdown` or the VM's end; returns the exit status.

        `config` (the command line's VM) is created and booted first; when it
        cannot boot, run() raises the VMM's own error (a VmmError, a refused
        option, an OSError) rather than the API's wrapped one.
        """
        self._emit("vmm", "starting")
        self._running = True
        try:
            if config is not None:
                self._boot_first(config)
            while self._exit_status is None:
                try:
                    item = self._inbox.get(timeout=_SIGNAL_LATENCY)
                except queue.Empty:
                    continue  # a signal that came just before get() blocked runs its handler now
                if isinstance(item, _VmStopped):
                    self._vm_stopped(item)
                else:
                    self._serve(item)
        except BaseException:
            self._stop_vm()
            self._exit_status = 1
            raise
        finally:
            self._running = False
            self._refuse_pending()
        return self._exit_status

    def _boot_first(self, config: VmConfig) -> None:
        self._create(config)
        try:
            self._boot(checked=True)  # the command line's config, validated by its caller
        except VmActionError as error:
            if error.__cause__ is None:
                raise
            raise error.__cause__ from None

    def _refuse_pending(self) -> None:
        """Answer what arrived after the end: the VMM is gone."""
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Request) and item.reply is not None:
                item.reply.set(error=VmActionError(item.action.value, "the VMM has shut down"))

    @property
    def state(self) -> VmState | None:
        """None before `vm.create`."""
        if self._config is None:
            return None
        if self._vm is None:
            return VmState.CREATED
        return VmState.PAUSED if self._paused else VmState.RUNNING

    def _serve(self, request: _Request) -> None:
        try:
            value = self._dispatch(request.action, request.body)
        except ControlError as error:
            log.info("API request %s refused: %s", request.action.value, "; ".join(error.chain))
            if request.reply is not None:
                request.reply.set(error=error)
            return
        except Exception as error:  # a VMM bug must answer 500, not kill the loop
            log.exception("API request %s failed", request.action.value)
            if request.reply is not None:
                request.reply.set(error=VmActionError(request.action.value, repr(error)))
            return
        if request.reply is not None:
            request.reply.set(value)

    def _dispatch(self, action: Action, body: object) -> object:
        match action:
            case Action.VMM_SHUTDOWN:
                if body is not None:
                    log.info("VMM shutting down: %s", body)
                self._shutdown_vmm(0)
            case Action.CREATE:
                self._create(body)  # type: ignore[arg-type]
            case Action.BOOT:
                self._boot()
            case Action.DELETE:
                self._delete()
            case Action.SHUTDOWN:
                self._running_vm(action)
                self._shutdown_vm()
            case Action.REBOOT:
                if self._vm is None:  # CH: no VM to take over, "not created"
                    raise VmNotCreatedError(action.value)
                self._reboot()
            case Action.PAUSE:
                self._pause()
            case Action.RESUME:
                self._resume()
            case Action.INFO:
                return self._info()
            case Action.COUNTERS:
                return self._running_vm(action).counters()
            case Action.POWER_BUTTON:
                self._running_vm(action).power_button()
            case _ if action in NEVER_SUPPORTED:
                raise NotSupportedError(action.value)
            case _ if action in CONFIG_EDITS:
                self._edit_config(action, body)
            case _ if action in NEEDS_RUNNING_VM:
                self._running_vm(action)
                raise NotSupportedError(action.value)
        return None

    def _running_vm(self, action: Action) -> RunningVm:
        """The booted VM, or CH's "VM is not running" (500)."""
        if self._vm is None:
            raise VmStateError(action.value, VM_NOT_RUNNING)
        return self._vm

    def _create(self, config: VmConfig) -> None:
        if self._config is not None:
            raise VmStateError(Action.CREATE.value, VM_ALREADY_CREATED)
        self._config = config

    def _edit_config(self, action: Action, body: object) -> None:
        """Before boot, CH edits the stored config; a running VM would need hot-plug."""
        if self._config is None:
            raise VmNotCreatedError(action.value)
        if self._vm is not None:
            raise NotSupportedError(action.value)
        from vmm.config_edits import edit_config

        self._config = edit_config(action, self._config, body)

    def _boot(self, *, checked: bool = False) -> None:
        if self._config is None:
            raise VmMissingConfigError(Action.BOOT.value)
        if self._vm is not None:
            raise VmStateError(Action.BOOT.value, VM_ALREADY_CREATED)
        if not checked:
            self._check_config(Action.BOOT)
        self._emit("vm", "booting")
        self._start_vm(Action.BOOT)
        self._emit("vm", "booted")

    def _check_config(self, action: Action) -> None:
        """vm.create stores any config it can decode (as CH): it is checked whole, files
        and what this VMM builds included, when it boots (400 if it is not valid)."""
        from vmm.config import ConfigError, validate
        from vmm.config.capabilities import refuse_unbuilt

        assert self._config is not None
        try:
            refuse_unbuilt(validate(self._config, check_files=True))
        except ConfigError as error:
            raise VmConfigError(action.value, str(error)) from None

    def _start_vm(self, action: Action) -> None:
        assert self._config is not None
        try:
            vm = self._launcher(self._config)
            vm.start()
        except ControlError:
            raise
        except Exception as error:  # VmmError, KvmError, OSError: the VM could not start
            log.debug("%s failed", action.value, exc_info=True)
            raise VmActionError(action.value, str(error) or type(error).__name__) from error
        self._vm, self._paused = vm, False
        watcher = threading.Thread(
            target=lambda: self._inbox.put(_VmStopped(vm, vm.wait() or _UNKNOWN_STOP)),
            name="vm-watcher",
            daemon=True,
        )
        watcher.start()

    def _launch(self, config: VmConfig) -> RunningVm:
        from vmm.launch import LaunchedVm

        return LaunchedVm(config, start_time=self._start_time)

    def _stop_vm(self) -> StopEvent | None:
        vm, self._vm, self._paused = self._vm, None, False
        return vm.stop() if vm is not None else None

    def _shutdown_vm(self) -> None:
        self._stop_vm()
        self._emit("vm", "shutdown")

    def _reboot(self) -> None:
        self._emit("vm", "rebooting")
        self._stop_vm()
        self._start_vm(Action.REBOOT)
        self._emit("vm", "rebooted")

    def _pause(self) -> None:
        vm = self._running_vm(Action.PAUSE)
        if self._paused:
            raise VmStateError(Action.PAUSE.value, "Invalid transition: Paused to Paused")
        self._emit("vm", "pausing")
        try:
            vm.pause()
        except Exception as error:
            raise VmActionError(Action.PAUSE.value, str(error)) from error
        self._paused = True
        self._emit("vm", "paused")

    def _resume(self) -> None:
        vm = self._running_vm(Action.RESUME)
        if not self._paused:
            raise VmStateError(Action.RESUME.value, "Invalid transition: Running to Running")
        self._emit("vm", "resuming")
        vm.resume()
        self._paused = False
        self._emit("vm", "resumed")

    def _delete(self) -> None:
        if self._config is None:
            return
        if self._vm is not None:
            self._shutdown_vm()
        self._config = None
        self._emit("vm", "deleted")

    def _shutdown_vmm(self, status: int) -> None:
        self._delete()
        self._emit("vmm", "shutdown")
        self._exit_status = status

    def _info(self) -> dict[str, object]:
        if self._config is None:
            raise VmNotCreatedError(Action.INFO.value)
        assert self.state is not None
        memory = self._config.memory
        info: dict[str, object] = {
            "config": self._config.to_json(),
            "state": self.state.value,
            "memory_actual_size": memory.total_size() - _hotplugged(memory),
        }
        if self._vm is not None:
            info["device_tree"] = self._vm.device_tree()
        return info

    def _vm_stopped(self, stopped: _VmStopped) -> None:
        """The guest or a failure ended the current VM: reboot, shut down or exit, as CH."""
        if stopped.vm is not self._vm:
            return  # a VM this loop stopped itself
        event = stopped.event
        log.info("VM stopped: %s (%s)", event.reason.value, event.detail)
        if event.reason is StopReason.GUEST_RESET and not self._exit_on_reset:
            try:
                self._reboot()
            except ControlError as error:
                log.error("reboot failed: %s", "; ".join(error.chain))
        elif event.reason is StopReason.GUEST_SHUTDOWN and self._no_shutdown:
            self._shutdown_vm()
        else:
            if event.reason is StopReason.ERROR:
                log.error("%s", event.detail)
            self._shutdown_vmm(event.exit_status)

    def _emit(self, source: str, event: str, properties: Mapping[str, str] | None = None) -> None:
        if self._events is not None:
            self._events.emit(source, event, properties)
        else:
            log.info("Event: source = %s event = %s", source, event)


_UNKNOWN_STOP = StopEvent(StopReason.ERROR, "the VM stopped without saying why")


def _hotplugged(memory: MemoryConfig) -> int:
    """What `vm.resize` added; CH leaves it out of memory_actual_size."""
    return (memory.hotplugged_size or 0) + sum(
        zone.hotplugged_size or 0 for zone in memory.zones or ()
    )
