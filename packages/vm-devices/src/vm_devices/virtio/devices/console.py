"""virtio-console: one console port between the guest and host fds (VIRTIO 1.2, 5.3).

No MULTIPORT: queue 0 (receiveq) carries host input to the guest, queue 1
(transmitq) the guest's output. What ``--console file=|tty|null|off`` means
is the VMM's business; this device takes an output fd (or None: output is
dropped) and an optional input fd (a terminal or a pipe).

Input is read with ``os.readv`` straight into the guest's receive buffers,
one read per readiness of the input fd, and only while the guest has
buffers posted: without any, the worker stops watching the input (it stays
in the fd) and starts again when the driver kicks the receive queue.
Output is written with ``os.writev`` straight from the guest's buffers.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import struct
from collections.abc import Sequence
from typing import Final

from virtio_queue import IOV_MAX, DescriptorChain, InvalidChainError
from vm_memory import GuestMemoryMmap

from vm_devices.virtio.defs import DeviceType
from vm_devices.virtio.device import ActiveQueue, VirtioDeviceBase, VirtioInterrupt
from vm_devices.virtio.devices.errors import ActivationError
from vm_devices.virtio.devices.rx import Fill, ReceiveQueue
from vm_devices.virtio.devices.serve import GuestErrorLog, QueueServer, WorkerGroup

__all__ = ["VIRTIO_CONSOLE_F_EMERG_WRITE", "VIRTIO_CONSOLE_F_SIZE", "Console"]

log = logging.getLogger(__name__)

VIRTIO_CONSOLE_F_SIZE: Final = 1 << 0
VIRTIO_CONSOLE_F_EMERG_WRITE: Final = 1 << 2
CONFIG: Final = struct.Struct("<HHII")  # cols, rows, max_nr_ports, emerg_wr
EMERG_WR_OFFSET: Final = 8
QUEUE_SIZE: Final = 256
RECEIVEQ: Final = 0
TRANSMITQ: Final = 1
OUTPUT_STALL_SECONDS: Final = 5.0


class Console(VirtioDeviceBase):
    """A virtio console writing guest output to ``output`` and feeding the
    guest from ``input``; ``cols``/``rows`` is the terminal size (offered to
    the guest, VIRTIO_CONSOLE_F_SIZE, when both are set). The fds stay the
    caller's: the device never closes them."""

    def __init__(
        self,
        output: int | None = None,
        input: int | None = None,
        *,
        cols: int = 0,
        rows: int = 0,
        name: str = "virtio-console",
    ) -> None:
        features = VIRTIO_CONSOLE_F_EMERG_WRITE | (VIRTIO_CONSOLE_F_SIZE if cols and rows else 0)
        super().__init__(DeviceType.CONSOLE, [QUEUE_SIZE, QUEUE_SIZE], features)
        self.output = output
        self.input = input
        self.name = name
        self._config = bytearray(CONFIG.pack(cols & 0xFFFF, rows & 0xFFFF, 1, 0))
        self._workers = WorkerGroup()
        self._interrupt: VirtioInterrupt | None = None
        self._receive: ReceiveQueue | None = None
        self._output_error = GuestErrorLog(log, f"{name}: output")
        self._guest_error = GuestErrorLog(log, name)
        self.rx_bytes = 0
        self.tx_bytes = 0

    @property
    def active(self) -> bool:
        return bool(self._workers.workers)

    @property
    def needs_reset(self) -> bool:
        return bool(self._workers.failures) or bool(self._receive and self._receive.failure)

    def resize(self, cols: int, rows: int) -> None:
        """The host terminal changed size: tell the guest (a config interrupt)."""
        struct.pack_into("<HH", self._config, 0, cols & 0xFFFF, rows & 0xFFFF)
        if self._interrupt is not None and self.has_feature(VIRTIO_CONSOLE_F_SIZE):
            self._interrupt.notify_config()

    def write_config(self, offset: int, data: memoryview | bytes) -> None:
        """Only ``emerg_wr`` is writable: one character, written out at once."""
        emergency = self.has_feature(VIRTIO_CONSOLE_F_EMERG_WRITE)
        if emergency and offset == EMERG_WR_OFFSET and len(data) in (1, 2, 4):
            self._write_out([memoryview(bytes(data[:1]))])

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        if self.active:
            raise ActivationError(self.name, "activated twice without a reset")
        by_index = {active.index: active for active in queues}
        if not by_index.keys() <= {RECEIVEQ, TRANSMITQ}:
            raise ActivationError(self.name, f"no queue {max(by_index.keys() - {0, 1})}")
        self._interrupt = interrupt
        worker = self._workers.worker(self.name)
        if TRANSMITQ in by_index:
            server = QueueServer(self.name, by_index[TRANSMITQ], memory, interrupt, self._transmit)
            self._workers.serve(worker, server)
        if RECEIVEQ in by_index:
            self._receive = ReceiveQueue(self.name, by_index[RECEIVEQ], memory, interrupt, worker)
            if self.input is not None:
                self._receive.attach_source(self.input, self._fill_input, batch=False)
        self._workers.start()

    def _transmit(self, chain: DescriptorChain) -> int:
        try:
            views = chain.readable_views()
        except InvalidChainError as error:
            self._guest_error("%s", error)
            return 0
        self.tx_bytes += sum(len(view) for view in views)
        self._write_out(views)
        return 0

    def _write_out(self, views: list[memoryview]) -> None:
        """All of ``views`` to the output, across short writes; dropped on errors."""
        fd = self.output
        if fd is None:
            return
        views = [view for view in views if len(view)]
        while views:
            try:
                done = os.writev(fd, views[:IOV_MAX])
            except BlockingIOError:
                if not select.select([], [fd], [], OUTPUT_STALL_SECONDS)[1]:
                    self._output_error("stalled for %ss, output dropped", OUTPUT_STALL_SECONDS)
                    return
                continue
            except OSError as error:
                self._output_error("%s, output dropped", error.strerror)
                return
            while done:
                if len(views[0]) <= done:
                    done -= len(views.pop(0))
                else:
                    views[0] = views[0][done:]
                    done = 0

    def _fill_input(self) -> Fill:
        """One read of the input into the next receive buffer (one only: the
        input may be a blocking fd, readable once per readiness)."""
        receive = self._receive
        assert receive is not None
        assert self.input is not None
        chain = receive.pop()
        if chain is None:
            return Fill.NO_BUFFERS
        try:
            views = chain.writable_views()[:IOV_MAX]
        except InvalidChainError as error:
            self._guest_error("%s", error)
            receive.add_used(chain.head_index, 0)
            return Fill.DELIVERED
        if not views:
            receive.add_used(chain.head_index, 0)
            return Fill.DELIVERED
        try:
            count = os.readv(self.input, views)
        except OSError as error:
            receive.queue.undo_pop()
            if error.errno not in (errno.EAGAIN, errno.EINTR):
                log.warning("%s: input stopped: %s", self.name, error.strerror)
                receive.detach_source()
            return Fill.SOURCE_EMPTY
        if not count:
            receive.queue.undo_pop()
            log.info("%s: end of input", self.name)
            receive.detach_source()
            return Fill.SOURCE_EMPTY
        self.rx_bytes += count
        receive.add_used(chain.head_index, count)
        return Fill.DELIVERED

    def pause(self) -> None:
        self._workers.pause(self.name)

    def resume(self) -> None:
        self._workers.resume()

    def reset(self) -> None:
        self._workers.stop()
        self._receive = None
        self._interrupt = None
        super().reset()

    def counters(self) -> dict[str, int]:
        return {"rx_bytes": self.rx_bytes, "tx_bytes": self.tx_bytes}
