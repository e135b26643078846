"""Every struct, field, ioctl number and constant agrees with the system's <linux/kvm.h>.

The test writes a C program from the Python definitions themselves, compiles
it against the installed kernel headers, and compares what C prints (sizeof,
offsetof, macro values) with what ctypes computes. Nothing is trusted.
"""

from __future__ import annotations

import ctypes
import enum
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kvm_bindings
import pytest
from kvm_bindings import run, structs, x86

HEADERS = [Path("/usr/include/linux/kvm.h"), Path("/usr/include/x86_64-linux-gnu/asm/kvm.h")]


def _c_struct_names() -> set[str]:
    text = "".join(path.read_text() for path in HEADERS if path.exists())
    return set(re.findall(r"^struct (\w+) \{", text, flags=re.MULTILINE))


def _top_level_structs() -> list[type[ctypes.Structure]]:
    names = _c_struct_names()
    found = []
    for module in (x86, structs, run):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, ctypes.Structure) and name in names:
                found.append(value)
    return found


def _fields(cls: Any, path: str, offset: int) -> Iterator[tuple[str, int, int | None]]:
    """Yield (C member designator, offset, size) for every named field, depth first.

    A flexible array member has no size in C; its elements are checked instead.
    """
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for spec in cls._fields_:
        name, ftype = spec[0], spec[1]
        descriptor = getattr(cls, name)
        field_offset = offset + descriptor.offset
        if name in anonymous:
            yield from _fields(ftype, path, field_offset)
            continue
        designator = f"{path}.{name}" if path else name
        if len(spec) == 3:  # bitfield: C has no offsetof for it, the enclosing size checks it
            continue
        flexible = issubclass(ftype, ctypes.Array) and ftype._length_ == 0
        yield designator, field_offset, None if flexible else ctypes.sizeof(ftype)
        element: Any = ftype
        while issubclass(element, ctypes.Array):
            designator += "[0]"
            element = element._type_
            yield designator, field_offset, ctypes.sizeof(element)
        if issubclass(element, ctypes.Structure | ctypes.Union):
            yield from _fields(element, designator, field_offset)


def _python_facts() -> dict[str, int]:
    facts: dict[str, int] = {}
    for cls in _top_level_structs():
        facts[f"sizeof(struct {cls.__name__})"] = ctypes.sizeof(cls)
        for designator, offset, size in _fields(cls, "", 0):
            facts[f"offsetof(struct {cls.__name__}, {designator})"] = offset
            if size is not None:
                facts[f"sizeof(((struct {cls.__name__} *)0)->{designator})"] = size
    for enum_type, prefix in kvm_bindings.C_MACRO_PREFIXES.items():
        for member in enum_type:  # canonical members only, aliases are Python spellings
            assert isinstance(member, enum.IntEnum | enum.IntFlag)
            facts[f"{prefix}{member.name}"] = int(member)
    facts.update(kvm_bindings.REQUESTS)
    facts["KVM_API_VERSION"] = kvm_bindings.KVM_API_VERSION
    facts["offsetof(struct kvm_run, immediate_exit)"] = kvm_bindings.KVM_RUN_IMMEDIATE_EXIT_OFFSET
    return facts


def _c_program(facts: dict[str, int]) -> str:
    lines = [
        "#include <stddef.h>",
        "#include <stdio.h>",
        "#include <linux/kvm.h>",
        "int main(void) {",
    ]
    for expression in facts:
        quoted = expression.replace('"', '\\"')
        if expression.isidentifier():  # a macro: report it even when the header lacks it
            lines += [
                f"#ifdef {expression}",
                f'printf("%s=%llu\\n", "{quoted}", (unsigned long long)({expression}));',
                "#else",
                f'printf("%s=missing\\n", "{quoted}");',
                "#endif",
            ]
        else:
            lines.append(f'printf("%s=%llu\\n", "{quoted}", (unsigned long long)({expression}));')
    lines += ["return 0;", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def c_facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler, (
        "a C compiler is needed to check the bindings (scripts/dev_cli.sh installs gcc)"
    )
    assert HEADERS[0].exists(), "<linux/kvm.h> is needed (Debian package linux-libc-dev)"
    folder = tmp_path_factory.mktemp("layout")
    source, binary = folder / "layout.c", folder / "layout"
    source.write_text(_c_program(_python_facts()))
    subprocess.run([compiler, "-o", str(binary), str(source)], check=True)
    output = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in output.splitlines())


def test_every_struct_field_and_constant_is_checked(c_facts: dict[str, str]) -> None:
    structs_checked = {k for k in c_facts if k.startswith("sizeof(struct ")}
    assert len(structs_checked) >= 35
    assert "offsetof(struct kvm_run, io.port)" in c_facts
    assert "offsetof(struct kvm_sregs, cs.selector)" in c_facts
    assert "KVM_RUN" in c_facts


def test_struct_sizes_and_offsets_match_c(c_facts: dict[str, str]) -> None:
    python = _python_facts()
    wrong = {
        key: (python[key], c_facts[key])
        for key in python
        if not key.isidentifier() and int(c_facts[key]) != python[key]
    }
    assert wrong == {}, "(python, C) differ"


def test_ioctl_numbers_and_constants_match_c(c_facts: dict[str, str]) -> None:
    python = _python_facts()
    macros = [key for key in python if key.isidentifier()]
    missing = [key for key in macros if c_facts[key] == "missing"]
    wrong = {
        key: (python[key], int(c_facts[key]))
        for key in macros
        if c_facts[key] != "missing" and int(c_facts[key]) != python[key]
    }
    assert missing == []
    assert wrong == {}, "(python, C) differ"
