"""The AML encoder against iasl: the same ASL compiles to the same bytes.

iasl runs with -on (no name path shortening): the encoder writes names as
given, as the ASL below spells them. Integer optimisation stays on: the
encoder writes 0, 1 and all ones as Zero, One and Ones, as iasl does.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from acpi_tables import Dsdt, aml
from acpi_tables.testing import Iasl

HEADER = 36


def iasl_body(iasl: Iasl, asl: str) -> bytes:
    """The AML iasl compiles from `asl` inside a DSDT, without the header."""
    table = iasl.compile(f'DefinitionBlock ("", "DSDT", 2, "PYVMM", "TEST", 1)\n{{\n{asl}\n}}\n')
    return table[HEADER:]


def ours(body: Sequence[aml.Aml]) -> bytes:
    return aml.encode_all(body)


def test_a_method_with_if_else_while_and_arithmetic(iasl: Iasl) -> None:
    asl = """
    Name (CNT0, Zero)
    Method (TEST, 2, Serialized)
    {
        Local0 = Zero
        While (Local0 < Arg0)
        {
            Local0++
            Local1 = (Local0 << 0x0C)
            Local2 = (Local1 - One)
            Local3 = (Local2 + 0x1000)
            Local4 = (Local3 & 0xFFFF)
            Local5 = (Local4 | 0x00010000)
            CNT0 = Local5
        }
        If (((Arg1 == 0x05) && (Arg0 != Zero)))
        {
            CNT0 = Local0
            Return (One)
        }
        ElseIf ((Arg1 >= 0x0100))
        {
            CNT0--
            Return (0xFFFFFFFFFFFFFFFF)
        }
        Else
        {
            Return (Zero)
        }
    }
    """
    body: list[aml.Aml] = [
        aml.Name("CNT0", 0),
        aml.Method(
            "TEST",
            [
                aml.Store(0, aml.Local(0)),
                aml.While(
                    aml.LLess(aml.Local(0), aml.Arg(0)),
                    [
                        aml.Increment(aml.Local(0)),
                        aml.ShiftLeft(aml.Local(0), 0x0C, aml.Local(1)),
                        aml.Subtract(aml.Local(1), 1, aml.Local(2)),
                        aml.Add(aml.Local(2), 0x1000, aml.Local(3)),
                        aml.And(aml.Local(3), 0xFFFF, aml.Local(4)),
                        aml.Or(aml.Local(4), 0x1_0000, aml.Local(5)),
                        aml.Store(aml.Local(5), aml.Path("CNT0")),
                    ],
                ),
                aml.If(
                    aml.LAnd(aml.LEqual(aml.Arg(1), 5), aml.LNotEqual(aml.Arg(0), 0)),
                    [aml.Store(aml.Local(0), aml.Path("CNT0")), aml.Return(1)],
                    [
                        aml.If(
                            aml.LGreaterEqual(aml.Arg(1), 0x100),
                            [aml.Decrement(aml.Path("CNT0")), aml.Return(aml.ONES)],
                            [aml.Return(0)],
                        )
                    ],
                ),
            ],
            args=2,
            serialized=True,
        ),
    ]
    assert ours(body) == iasl_body(iasl, asl)


def test_a_pci_host_bridge_resource_template(iasl: Iasl) -> None:
    asl = """
    Name (_CRS, ResourceTemplate ()
    {
        WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
            0x0000, 0x0000, 0x00FF, 0x0000, 0x0100,,,)
        IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08,)
        WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
            0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8,,,, TypeStatic)
        DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
            0x00000000, 0xC0000000, 0xFEBFFFFF, 0x00000000, 0x3EC00000,,,,
            AddressRangeMemory, TypeStatic)
        QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
            0x0000000000000000, 0x0000000100000000, 0x0000007FFFFFFFFF, 0x0000000000000000,
            0x0000007F00000000,,,, AddressRangeMemory, TypeStatic)
        Memory32Fixed (ReadWrite, 0xFED00000, 0x00001000,)
        Memory32Fixed (ReadOnly, 0xFEE00000, 0x00100000,)
        Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive,,,) { 0x05 }
        Interrupt (ResourceConsumer, Level, ActiveLow, Shared,,,) { 0x10, 0x11 }
    })
    """
    template = aml.ResourceTemplate(
        [
            aml.WordBusNumber(0, 0xFF),
            aml.IO(0xCF8, 0xCF8, 1, 8),
            aml.WordIO(0, 0xCF7),
            aml.DWordMemory(0xC000_0000, 0xFEBF_FFFF),
            aml.QWordMemory(0x1_0000_0000, 0x7F_FFFF_FFFF, cacheability=aml.Cacheability.CACHEABLE),
            aml.Memory32Fixed(0xFED0_0000, 0x1000),
            aml.Memory32Fixed(0xFEE0_0000, 0x10_0000, writeable=False),
            aml.Interrupt([5], edge_triggered=True),
            aml.Interrupt([0x10, 0x11], active_low=True, shared=True),
        ]
    )
    assert ours([aml.Name("_CRS", template)]) == iasl_body(iasl, asl)


def test_an_operation_region_and_its_fields(iasl: Iasl) -> None:
    asl = """
    OperationRegion (PCST, SystemMemory, 0xFE000000, 0x10)
    Field (PCST, DWordAcc, NoLock, WriteAsZeros)
    {
        PCIU,   32,
        PCID,   32,
        Offset (0x0C),
        B0EJ,   1,
            ,   7,
        AccessAs (ByteAcc, 0x00),
        FLGS,   8
    }
    OperationRegion (PRST, SystemIO, 0x0CD8, 0x0C)
    Field (PRST, ByteAcc, Lock, Preserve)
    {
        Offset (0x04),
        CPEN,   1,
        CINS,   1
    }
    OperationRegion (PCFG, PCI_Config, Zero, 0x0100)
    Field (PCFG, AnyAcc, NoLock, WriteAsOnes)
    {
        VEND,   16,
        DEVI,   16
    }
    """
    body: list[aml.Aml] = [
        aml.OperationRegion("PCST", aml.RegionSpace.SYSTEM_MEMORY, 0xFE00_0000, 0x10),
        aml.Field(
            "PCST",
            aml.FieldAccess.DWORD,
            [
                aml.NamedField("PCIU", 32),
                aml.NamedField("PCID", 32),
                aml.Offset(0x0C),
                aml.NamedField("B0EJ", 1),
                aml.ReservedField(7),
                aml.AccessAs(aml.FieldAccess.BYTE),
                aml.NamedField("FLGS", 8),
            ],
            update=aml.FieldUpdate.WRITE_AS_ZEROS,
        ),
        aml.OperationRegion("PRST", aml.RegionSpace.SYSTEM_IO, 0x0CD8, 0x0C),
        aml.Field(
            "PRST",
            aml.FieldAccess.BYTE,
            [aml.Offset(4), aml.NamedField("CPEN", 1), aml.NamedField("CINS", 1)],
            lock=aml.FieldLock.LOCK,
        ),
        aml.OperationRegion("PCFG", aml.RegionSpace.PCI_CONFIG, 0, 0x100),
        aml.Field(
            "PCFG",
            aml.FieldAccess.ANY,
            [aml.NamedField("VEND", 16), aml.NamedField("DEVI", 16)],
            update=aml.FieldUpdate.WRITE_AS_ONES,
        ),
    ]
    assert ours(body) == iasl_body(iasl, asl)


def test_packages_buffers_strings_and_ids(iasl: Iasl) -> None:
    asl = """
    Name (_S5, Package (0x02) { 0x05, Zero })
    Name (_PRT, Package (0x02)
    {
        Package (0x04) { 0xFFFF, Zero, Zero, 0x05 },
        Package (0x04) { 0x0001FFFF, One, \\STRS, Zero }
    })
    Name (STRS, Package (0x03) { "ACPI0013", "", Buffer (0x03) { 0x01, 0x02, 0x03 } })
    Name (_HID, EisaId ("PNP0A08"))
    Name (_UID, "Generic Event Controller")
    Name (BIG_, Buffer (0x0200) { 0x01 })
    Name (QWD_, 0x0000000123456789)
    """
    body: list[aml.Aml] = [
        aml.Name("_S5_", aml.Package([5, 0])),
        aml.Name(
            "_PRT",
            aml.Package(
                [
                    aml.Package([0xFFFF, 0, 0, 5]),
                    aml.Package([0x1_FFFF, 1, aml.Path("\\STRS"), 0]),
                ]
            ),
        ),
        aml.Name("STRS", aml.Package(["ACPI0013", "", aml.Buffer(b"\x01\x02\x03")])),
        aml.Name("_HID", aml.EisaId("PNP0A08")),
        aml.Name("_UID", "Generic Event Controller"),
        aml.Name("BIG_", aml.Buffer(b"\x01", size=0x200)),
        aml.Name("QWD_", 0x1_2345_6789),
    ]
    assert ours(body) == iasl_body(iasl, asl)


def test_devices_scopes_mutexes_notify_and_calls(iasl: Iasl) -> None:
    asl = """
    Scope (\\_SB)
    {
        Device (PWRB)
        {
            Name (_HID, EisaId ("PNP0C0C"))
            Name (_UID, Zero)
        }
        Device (CPUS)
        {
            Name (_HID, "ACPI0010")
            Mutex (CPLK, 0x00)
            Method (CSTA, 1, Serialized)
            {
                Acquire (CPLK, 0xFFFF)
                Local0 = SizeOf (Arg0)
                Release (CPLK)
                Return (DerefOf (Index (Arg0, Local0)))
            }
            Method (CSCN, 0, NotSerialized)
            {
                Local1 = CSTA (Package (0x01) { One })
                Notify (\\_SB.PWRB, 0x80)
                Notify (PWRB, One)
                Sleep (0x0A)
                Stall (0x05)
                Return (Local1)
            }
        }
    }
    """
    body: list[aml.Aml] = [
        aml.Scope(
            "\\_SB_",
            [
                aml.Device("PWRB", [aml.Name("_HID", aml.EisaId("PNP0C0C")), aml.Name("_UID", 0)]),
                aml.Device(
                    "CPUS",
                    [
                        aml.Name("_HID", "ACPI0010"),
                        aml.Mutex("CPLK", 0),
                        aml.Method(
                            "CSTA",
                            [
                                aml.Acquire("CPLK", 0xFFFF),
                                aml.Store(aml.SizeOf(aml.Arg(0)), aml.Local(0)),
                                aml.Release("CPLK"),
                                aml.Return(aml.DerefOf(aml.Index(aml.Arg(0), aml.Local(0)))),
                            ],
                            args=1,
                            serialized=True,
                        ),
                        aml.Method(
                            "CSCN",
                            [
                                aml.Store(aml.MethodCall("CSTA", aml.Package([1])), aml.Local(1)),
                                aml.Notify(aml.Path("\\_SB_.PWRB"), 0x80),
                                aml.Notify(aml.Path("PWRB"), 1),
                                aml.Sleep(10),
                                aml.Stall(5),
                                aml.Return(aml.Local(1)),
                            ],
                        ),
                    ],
                ),
            ],
        )
    ]
    assert ours(body) == iasl_body(iasl, asl)


def test_buffer_fields_over_a_resource_template(iasl: Iasl) -> None:
    asl = """
    Method (MCRS, 0, Serialized)
    {
        Name (MR64, ResourceTemplate ()
        {
            QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                0x0000000000000000, 0x0000000000000000, 0x0000000000000FFF,
                0x0000000000000000, 0x0000000000001000,,,, AddressRangeMemory, TypeStatic)
        })
        CreateQWordField (MR64, 0x0E, MINL)
        CreateDWordField (MR64, 0x16, MAXL)
        CreateWordField (MR64, 0x26, LENL)
        CreateByteField (MR64, 0x03, TYPF)
        CreateBitField (MR64, 0x20, RWBT)
        MINL = 0x00100000
        Return (MR64)
    }
    """
    template = aml.ResourceTemplate(
        [aml.QWordMemory(0, 0xFFF, cacheability=aml.Cacheability.CACHEABLE)]
    )
    body = [
        aml.Method(
            "MCRS",
            [
                aml.Name("MR64", template),
                aml.CreateQWordField(aml.Path("MR64"), 0x0E, "MINL"),
                aml.CreateDWordField(aml.Path("MR64"), 0x16, "MAXL"),
                aml.CreateWordField(aml.Path("MR64"), 0x26, "LENL"),
                aml.CreateByteField(aml.Path("MR64"), 0x03, "TYPF"),
                aml.CreateBitField(aml.Path("MR64"), 0x20, "RWBT"),
                aml.Store(0x10_0000, aml.Path("MINL")),
                aml.Return(aml.Path("MR64")),
            ],
            serialized=True,
        )
    ]
    assert ours(body) == iasl_body(iasl, asl)


@pytest.mark.parametrize("size", [60, 61, 62, 63, 4090, 4091, 4092, 4093, 5000])
def test_package_lengths_at_their_boundaries(iasl: Iasl, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    asl = "Name (BUF_, Buffer () {" + ", ".join(f"0x{b:02X}" for b in data) + "})"
    assert ours([aml.Name("BUF_", aml.Buffer(data))]) == iasl_body(iasl, asl)


def test_a_dsdt_disassembled_and_compiled_again_gives_the_same_aml(iasl: Iasl) -> None:
    dsdt = Dsdt(
        [
            aml.Device(
                "\\_SB_.GED_",
                [
                    aml.Name("_HID", "ACPI0013"),
                    aml.Name("_UID", 0),
                    aml.Name(
                        "_CRS",
                        aml.ResourceTemplate([aml.Interrupt([5], edge_triggered=True)]),
                    ),
                    aml.OperationRegion("GDST", aml.RegionSpace.SYSTEM_MEMORY, 0xFED0_0000, 1),
                    aml.Field("GDST", aml.FieldAccess.BYTE, [aml.NamedField("GDAT", 8)]),
                    aml.Method(
                        "_EVT",
                        [
                            aml.Store(aml.Path("GDAT"), aml.Local(0)),
                            aml.And(aml.Local(0), 8, aml.Local(1)),
                            aml.If(
                                aml.LEqual(aml.Local(1), 8),
                                [aml.Notify(aml.Path("\\_SB_.PWRB"), 0x80)],
                            ),
                        ],
                        args=1,
                        serialized=True,
                    ),
                ],
            ),
            aml.Device(
                "\\_SB_.PWRB", [aml.Name("_HID", aml.EisaId("PNP0C0C")), aml.Name("_UID", 0)]
            ),
            aml.Name("_S5_", aml.Package([5])),
        ]
    )
    table = dsdt.to_bytes()
    disassembly = iasl.disassemble(table)
    assert disassembly.problems == []
    assert iasl.compile(disassembly.source)[HEADER:] == table[HEADER:]
