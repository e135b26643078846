"""Any sequence of guest accesses and host input: the UART never raises and stays consistent."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from vm_devices.testing import RecordedSerial

LSR, IIR = 5, 2


@dataclass(frozen=True)
class Access:
    """A guest ``in``/``out`` of ``size`` bytes at ``offset`` (clipped to the UART's 8 ports)."""

    write: bool
    offset: int
    size: int
    value: int


@dataclass(frozen=True)
class Input:
    data: bytes


@dataclass(frozen=True)
class Break:
    pass


Step = Access | Input | Break

accesses = st.builds(
    Access, st.booleans(), st.integers(0, 7), st.integers(1, 8), st.integers(0, 2**64 - 1)
)
inputs = st.builds(Input, st.binary(max_size=24))
steps = st.lists(st.one_of(accesses, accesses, accesses, inputs, st.just(Break())), max_size=80)


def apply(uart: RecordedSerial, step: Step) -> None:
    if isinstance(step, Input):
        accepted = uart.serial.enqueue_input(step.data)
        assert 0 <= accepted <= len(step.data)
    elif isinstance(step, Break):
        uart.serial.send_break()
    else:
        size = min(step.size, 8 - step.offset)
        if step.write:
            uart.write(uart.base + step.offset, step.value & ((1 << (8 * size)) - 1), size)
        else:
            uart.read(uart.base + step.offset, size)


@given(steps)
@settings(max_examples=300, deadline=None)
def test_random_accesses_never_raise_and_keep_the_invariants(sequence: list[Step]) -> None:
    uart = RecordedSerial()
    for step in sequence:
        apply(uart, step)
        assert 0 <= uart.serial.input_room <= 16
    assert uart.reg_in(LSR) & 0x60 == 0x60  # THR and the transmitter are always empty
    iir = uart.reg_in(IIR)
    assert iir & 0x30 == 0
    assert iir & 0x0F in (0x01, 0x06, 0x04, 0x0C, 0x02, 0x00)
    assert iir & 0xC0 in (0x00, 0xC0)


@given(steps)
@settings(max_examples=200, deadline=None)
def test_interrupt_level_changes_alternate_and_match_the_pin(sequence: list[Step]) -> None:
    uart = RecordedSerial()
    for step in sequence:
        apply(uart, step)
    levels = uart.levels
    assert all(levels[i] != levels[i + 1] for i in range(len(levels) - 1))
    assert not levels or levels[0] is True
    assert uart.serial.interrupt_asserted == (bool(levels) and levels[-1])
