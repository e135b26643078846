"""The GED status byte: notify sets bits and interrupts, a read returns and clears them."""

from __future__ import annotations

import threading

from vm_devices import CallbackInterrupt
from vm_devices.acpi import GedDevice, GedEvent


def make() -> tuple[GedDevice, list[bool]]:
    levels: list[bool] = []
    return GedDevice(CallbackInterrupt(levels.append)), levels


def read(device: GedDevice, size: int = 1) -> bytes:
    data = memoryview(bytearray(b"\xee" * size))
    device.read(0, 0, data)
    return bytes(data)


def test_power_button_sets_bit_3_and_interrupts() -> None:
    device, levels = make()
    device.notify(GedEvent.POWER_BUTTON_CHANGED)
    assert levels  # an edge: raised (and lowered)
    assert read(device) == b"\x08"
    assert read(device) == b"\x00"  # the read cleared it


def test_events_accumulate_until_read() -> None:
    device, _ = make()
    device.notify(GedEvent.CPU_DEVICES_CHANGED)
    device.notify(GedEvent.PCI_DEVICES_CHANGED)
    assert device.pending == GedEvent.CPU_DEVICES_CHANGED | GedEvent.PCI_DEVICES_CHANGED
    assert read(device, 4) == b"\x05\x00\x00\x00"


def test_writes_are_ignored() -> None:
    device, _ = make()
    device.notify(GedEvent.MEMORY_DEVICES_CHANGED)
    device.write(0, 0, b"\x00")
    assert read(device) == b"\x02"


def test_no_event_is_lost_between_threads() -> None:
    device, _ = make()
    seen = 0
    done = threading.Event()

    def reader() -> None:
        nonlocal seen
        while not done.is_set():
            seen |= read(device)[0]
        seen |= read(device)[0]

    thread = threading.Thread(target=reader)
    thread.start()
    for event in GedEvent:
        device.notify(event)
    done.set()
    thread.join()
    assert seen == 0x0F
