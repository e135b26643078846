"""EpollWorker: a handler per readable fd, pause and resume between handlers, and a stop
that wakes the thread, waits for it and only then closes its fds; a device's WorkerGroup
pauses all its workers."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from vm_devices.virtio import EpollWorker, drain_eventfd
from vm_devices.virtio.devices import PauseTimeoutError
from vm_devices.virtio.devices.serve import WorkerGroup

WAIT = 5.0


class Kicks:
    """A handler for an eventfd: counts the kicks it serves; `hold()` makes it block
    inside the next one until `let_go()`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.served = 0
        self.inside = threading.Event()
        self._release = threading.Event()
        self._release.set()

    def __call__(self) -> None:
        drain_eventfd(self.fd)
        self.served += 1
        self.inside.set()
        self._release.wait(WAIT)

    def hold(self) -> None:
        self._release.clear()

    def let_go(self) -> None:
        self._release.set()

    def kick(self) -> None:
        os.eventfd_write(self.fd, 1)


@pytest.fixture
def kicks() -> Iterator[Kicks]:
    fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
    yield Kicks(fd)
    os.close(fd)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def started(kicks: Kicks) -> EpollWorker:
    worker = EpollWorker("test-worker")
    worker.add(kicks.fd, kicks)
    worker.start()
    return worker


def ended(worker: EpollWorker) -> bool:
    deadline = time.monotonic() + WAIT
    while worker.running and time.monotonic() < deadline:
        time.sleep(0.01)
    return not worker.running


def test_each_kick_runs_the_handler(kicks: Kicks) -> None:
    worker = started(kicks)
    kicks.kick()
    assert kicks.inside.wait(WAIT)
    worker.stop()
    assert kicks.served == 1


# Stop ----------------------------------------------------------------------------------------


def test_stop_ends_the_thread_and_closes_the_epoll_and_its_eventfd(kicks: Kicks) -> None:
    before = open_fds()
    worker = started(kicks)
    worker.stop()
    assert (worker.running, open_fds()) == (False, before)


def test_a_stop_that_times_out_closes_nothing_under_the_running_handler(kicks: Kicks) -> None:
    before = open_fds()
    worker = started(kicks)
    kicks.hold()
    kicks.kick()
    assert kicks.inside.wait(WAIT)
    worker.stop(timeout=0.05)
    assert worker.running
    assert open_fds() == before + 2  # its epoll and wake eventfd
    kicks.let_go()
    assert ended(worker)
    assert worker.failure is None
    assert open_fds() == before


def test_a_handler_can_stop_its_own_worker(kicks: Kicks) -> None:
    before = open_fds()
    worker = EpollWorker("test-worker")

    def stop_from_inside() -> None:
        drain_eventfd(kicks.fd)
        worker.stop()

    worker.add(kicks.fd, stop_from_inside)
    worker.start()
    kicks.kick()
    assert ended(worker)
    assert worker.failure is None
    assert open_fds() == before


def test_stopping_twice_from_two_threads_closes_once(kicks: Kicks) -> None:
    worker = started(kicks)
    others = [threading.Thread(target=worker.stop) for _ in range(2)]
    for thread in others:
        thread.start()
    worker.stop()
    for thread in others:
        thread.join(WAIT)
    assert not worker.running


def test_a_worker_never_started_is_stopped_at_once() -> None:
    before = open_fds()
    EpollWorker("never-started").stop()
    assert open_fds() == before


# Pause ---------------------------------------------------------------------------------------


def test_a_paused_worker_serves_no_kick_until_resumed(kicks: Kicks) -> None:
    worker = started(kicks)
    assert worker.pause(WAIT)
    kicks.kick()
    time.sleep(0.1)
    assert (kicks.served, worker.paused) == (0, True)
    worker.resume()
    assert kicks.inside.wait(WAIT)
    assert (kicks.served, worker.paused) == (1, False)
    worker.stop()


def test_pause_waits_for_the_running_handler_to_return(kicks: Kicks) -> None:
    worker = started(kicks)
    kicks.hold()
    kicks.kick()
    assert kicks.inside.wait(WAIT)
    worker.request_pause()
    assert not worker.wait_paused(0.05)
    kicks.let_go()
    assert worker.wait_paused(WAIT)
    worker.stop()


def test_a_worker_paused_before_it_starts_serves_nothing(kicks: Kicks) -> None:
    worker = EpollWorker("test-worker")
    worker.add(kicks.fd, kicks)
    worker.request_pause()
    kicks.kick()
    worker.start()
    assert worker.wait_paused(WAIT)
    assert kicks.served == 0
    worker.stop()


def test_stop_ends_a_paused_worker(kicks: Kicks) -> None:
    before = open_fds()
    worker = started(kicks)
    assert worker.pause(WAIT)
    worker.stop()
    assert (worker.running, open_fds()) == (False, before)


def test_a_device_s_pause_names_the_workers_still_busy_at_the_timeout(kicks: Kicks) -> None:
    group = WorkerGroup()
    busy = group.worker("disk-q0")
    busy.add(kicks.fd, kicks)
    group.worker("disk-q1")
    group.start()
    kicks.hold()
    kicks.kick()
    assert kicks.inside.wait(WAIT)
    with pytest.raises(PauseTimeoutError, match=r"^disk: disk-q0 did not pause within 0.05 s$"):
        group.pause("disk", timeout=0.05)
    kicks.let_go()
    group.stop()
