"""AML objects, encoded as the grammar spells them (hand-checked against ACPI 6.5, 20.2)."""

from __future__ import annotations

import pytest
from acpi_tables import AcpiError, aml


def hexes(data: bytes) -> str:
    return data.hex(" ")


def test_eisa_id_compresses_the_letters_and_reads_the_digits_big_endian() -> None:
    eisa = aml.EisaId("PNP0C0C")
    assert eisa.to_aml_bytes() == bytes.fromhex("0c 41 d0 0c 0c")
    assert eisa.value == 0x0C0C_D041


@pytest.mark.parametrize("bad", ["PNP0A0", "pnp0A03", "PNP0A0G", "P1P0A03"])
def test_eisa_ids_are_three_letters_and_four_hex_digits(bad: str) -> None:
    with pytest.raises(AcpiError, match="EisaId"):
        aml.EisaId(bad)


def test_method_flags_hold_args_serialized_and_sync_level() -> None:
    method = aml.Method("MTH0", [], args=3, serialized=True, sync_level=2)
    assert method.to_aml_bytes() == b"\x14\x06MTH0" + bytes([0x2B])


@pytest.mark.parametrize("args", [-1, 8])
def test_a_method_takes_0_to_7_args(args: int) -> None:
    with pytest.raises(AcpiError, match=r"Method\.args"):
        aml.Method("MTH0", [], args=args)


def test_locals_and_args_are_single_opcodes() -> None:
    assert [aml.Local(i).to_aml_bytes()[0] for i in (0, 7)] == [0x60, 0x67]
    assert [aml.Arg(i).to_aml_bytes()[0] for i in (0, 6)] == [0x68, 0x6E]
    with pytest.raises(AcpiError, match="Local0 to Local7"):
        aml.Local(8)
    with pytest.raises(AcpiError, match="Arg0 to Arg6"):
        aml.Arg(7)


def test_else_follows_its_if() -> None:
    encoded = aml.If(aml.Arg(0), [aml.Return(1)], [aml.Return(0)]).to_aml_bytes()
    assert hexes(encoded) == "a0 04 68 a4 01 a1 03 a4 00"


def test_an_if_without_else_has_no_else() -> None:
    assert hexes(aml.If(1, [aml.Break()]).to_aml_bytes()) == "a0 03 01 a5"


def test_a_missing_target_is_the_null_name() -> None:
    assert hexes(aml.Add(aml.Local(0), 1).to_aml_bytes()) == "72 60 01 00"
    assert hexes(aml.Add(aml.Local(0), 1, aml.Local(0)).to_aml_bytes()) == "72 60 01 60"


def test_negated_comparisons_are_lnot_of_the_opposite() -> None:
    assert hexes(aml.LNotEqual(aml.Local(0), 0).to_aml_bytes()) == "92 93 60 00"
    assert hexes(aml.LLessEqual(aml.Local(0), 0).to_aml_bytes()) == "92 94 60 00"
    assert hexes(aml.LGreaterEqual(aml.Local(0), 0).to_aml_bytes()) == "92 95 60 00"


def test_store_puts_the_source_first() -> None:
    assert hexes(aml.Store(5, aml.Path("VALU")).to_aml_bytes()) == "70 0a 05 56 41 4c 55"


def test_method_call_is_the_name_then_the_arguments() -> None:
    assert aml.MethodCall("CSTA", aml.Local(0), 2).to_aml_bytes() == b"CSTA\x60\x0a\x02"


def test_acquire_has_a_word_timeout() -> None:
    assert aml.Acquire("MLCK", 0xFFFF).to_aml_bytes() == b"\x5b\x23MLCK\xff\xff"


def test_buffer_size_is_the_data_length_unless_larger() -> None:
    assert hexes(aml.Buffer(b"\x01\x02").to_aml_bytes()) == "11 05 0a 02 01 02"
    assert hexes(aml.Buffer(b"\x01", size=4).to_aml_bytes()) == "11 04 0a 04 01"
    with pytest.raises(AcpiError, match=r"Buffer\.size"):
        aml.Buffer(b"\x01\x02", size=1)


def test_package_counts_its_elements() -> None:
    package = aml.Package([1, "A", aml.Path("\\_SB_")])
    assert hexes(package.to_aml_bytes()) == "12 0b 03 01 0d 41 00 5c 5f 53 42 5f"


def test_more_than_255_elements_make_a_var_package() -> None:
    encoded = aml.Package([0] * 256).to_aml_bytes()
    assert encoded[0] == 0x13
    assert encoded[3:6] == bytes.fromhex("0b 00 01")  # the count as a TermArg, after 2 length bytes


def test_field_offsets_become_reserved_bits() -> None:
    field = aml.Field(
        "REGS",
        aml.FieldAccess.DWORD,
        [aml.NamedField("AAAA", 8), aml.Offset(4), aml.NamedField("BBBB", 32)],
        update=aml.FieldUpdate.WRITE_AS_ZEROS,
    )
    body = b"REGS" + bytes([0x43]) + b"AAAA\x08" + b"\x00\x18" + b"BBBB\x20"
    assert field.to_aml_bytes() == b"\x5b\x81" + bytes([len(body) + 1]) + body


def test_field_offsets_cannot_go_back() -> None:
    with pytest.raises(AcpiError, match="behind the current bit 16"):
        aml.Field("REGS", aml.FieldAccess.BYTE, [aml.NamedField("AAAA", 16), aml.Offset(1)])


def test_resource_template_ends_with_a_zero_checksum_by_default() -> None:
    template = aml.ResourceTemplate([aml.IO(0x3F8, 0x3F8, 0, 8)])
    assert template.descriptor_bytes()[-2:] == b"\x79\x00"


def test_resource_template_can_carry_a_real_checksum() -> None:
    data = aml.ResourceTemplate([aml.IO(0x3F8, 0x3F8, 0, 8)], checksum=True).descriptor_bytes()
    assert data[-2] == 0x79
    assert sum(data) & 0xFF == 0
    assert data[-1] != 0


def test_interrupt_flags() -> None:
    interrupt = aml.Interrupt([5, 6], edge_triggered=True, active_low=True, shared=True)
    assert hexes(interrupt.to_descriptor_bytes()) == ("89 0a 00 0f 02 05 00 00 00 06 00 00 00")


def test_address_space_descriptors_default_to_a_fixed_window_produced() -> None:
    bus = aml.WordBusNumber(0, 0xFF).to_descriptor_bytes()
    assert hexes(bus) == "88 0d 00 02 0c 00 00 00 00 00 ff 00 00 00 00 01"


def test_memory_descriptor_type_flags() -> None:
    memory = aml.DWordMemory(
        0x1000, 0x1FFF, cacheability=aml.Cacheability.PREFETCHABLE, writeable=False
    ).to_descriptor_bytes()
    assert memory[:6] == bytes([0x87, 23, 0, 0, 0x0C, 0b110])


def test_a_fixed_window_length_is_its_span() -> None:
    with pytest.raises(AcpiError, match="span"):
        aml.QWordMemory(0x1000, 0x1FFF, length=0x2000)


@pytest.mark.parametrize(
    "make",
    [
        lambda: aml.WordIO(0x100, 0xFF),
        lambda: aml.DWordMemory(0, 1 << 32),
        lambda: aml.Memory32Fixed(0xFFFF_F000, 0x2000),
        lambda: aml.IO(0, 0x1_0000, 1, 1),
        lambda: aml.Interrupt([]),
    ],
)
def test_descriptors_refuse_values_that_do_not_fit(make: object) -> None:
    with pytest.raises(AcpiError):
        make()  # type: ignore[operator]
