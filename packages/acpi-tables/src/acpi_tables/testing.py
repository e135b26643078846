"""ACPICA's tools on generated tables, for tests here and in the packages that build tables.

:class:`Iasl` disassembles a table (``iasl -d``) and compiles ASL or a data
table source (``iasl``) in a temporary folder; :class:`AcpiDump` writes
tables in acpidump's text format (``acpidump -f``) and extracts them again
(``acpixtract -a``). ``find()`` returns None when a tool is not installed
(Debian's ``acpica-tools``), so a test can skip with that reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AcpiDump", "Disassembly", "Iasl", "IaslError"]

_PROBLEM = re.compile(r"\b(error|warning|incorrect|invalid)\b", re.IGNORECASE)
_OFFSETS = r"(?:\[[0-9A-F]+h [0-9]+ +[0-9]+\])"  # [00Ah 0010   6]: hex, decimal, length
_SUMMARY = re.compile(r"\b0 Errors, 0 Warnings\b")
_TIMEOUT = 60.0


class IaslError(RuntimeError):
    """iasl failed, or reported an error or warning; the message is its own output."""


def _problems(*texts: str) -> list[str]:
    return [
        line.strip()
        for text in texts
        for line in text.splitlines()
        if _PROBLEM.search(line) and not _SUMMARY.search(line)
    ]


@dataclass(frozen=True)
class Disassembly:
    """What ``iasl -d`` made of a table: the .dsl source and iasl's own messages."""

    source: str
    messages: str
    returncode: int

    @property
    def problems(self) -> list[str]:
        """Every line, of the messages or the source, with an error, a warning, an
        incorrect (checksum) or an invalid (subtable) in it."""
        return _problems(self.messages, self.source)

    def values(self, label: str) -> list[str]:
        """A data table's values for a field label, in order: ``values("Oem ID")`` of
        ``[00Ah 0010   6]    Oem ID : "PYVMM "`` is ``['"PYVMM "']``; a decoded flag's
        line (``   Hot Pluggable : 1``) has no offset."""
        pattern = re.compile(rf"^{_OFFSETS}? *{re.escape(label)} : (.*?)\s*$")
        found = (pattern.match(line) for line in self.source.splitlines())
        return [match[1] for match in found if match]

    def value(self, label: str) -> str:
        """The one value of a field label; AssertionError if there is not exactly one."""
        found = self.values(label)
        assert len(found) == 1, f"{label!r} appears {len(found)} times in the disassembly"
        return found[0]


class Iasl:
    """ACPICA's ASL compiler and disassembler."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def find(cls) -> Iasl | None:
        """iasl on $PATH, or None."""
        path = shutil.which("iasl")
        return None if path is None else cls(path)

    def _run(self, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.path, *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )

    def disassemble(self, table: bytes) -> Disassembly:
        """``iasl -d`` of one binary table."""
        with tempfile.TemporaryDirectory(prefix="iasl-") as folder:
            (Path(folder) / "table.dat").write_bytes(table)
            run = self._run(Path(folder), "-d", "table.dat")
            dsl = Path(folder) / "table.dsl"
            source = dsl.read_text(errors="replace") if dsl.exists() else ""
        return Disassembly(source, run.stdout + run.stderr, run.returncode)

    def compile(self, source: str, *, shorten_names: bool = False) -> bytes:
        """The table iasl compiles from ASL (a DefinitionBlock) or a data table source.

        iasl shortens name paths where it can (``\\_SB_.PCI0`` at the root
        becomes ``_SB_.PCI0``); `shorten_names` False turns that off (-on),
        so names compile as written, as the AML encoder writes them. Raises
        IaslError when iasl fails or reports any error or warning.
        """
        options = [] if shorten_names else ["-on"]
        with tempfile.TemporaryDirectory(prefix="iasl-") as folder:
            (Path(folder) / "table.asl").write_text(source)
            run = self._run(Path(folder), *options, "-p", "table", "table.asl")
            messages = run.stdout + run.stderr
            aml = Path(folder) / "table.aml"
            if run.returncode != 0 or not aml.exists() or _problems(messages):
                raise IaslError(messages)
            return aml.read_bytes()


class AcpiDump:
    """acpidump's text format, as a guest's ``acpidump`` prints its tables, and back."""

    def __init__(self, acpidump: str, acpixtract: str) -> None:
        self.acpidump = acpidump
        self.acpixtract = acpixtract

    @classmethod
    def find(cls) -> AcpiDump | None:
        """acpidump and acpixtract on $PATH, or None."""
        acpidump, acpixtract = shutil.which("acpidump"), shutil.which("acpixtract")
        return None if acpidump is None or acpixtract is None else cls(acpidump, acpixtract)

    def dump(self, tables: list[bytes]) -> str:
        """The tables in acpidump's hex format (``acpidump -f`` of each)."""
        with tempfile.TemporaryDirectory(prefix="acpidump-") as folder:
            paths = []
            for number, table in enumerate(tables):
                path = Path(folder) / f"table{number}.dat"
                path.write_bytes(table)
                paths += ["-f", str(path)]
            run = subprocess.run(
                [self.acpidump, *paths],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
            )
        if run.returncode != 0 or run.stderr.strip():
            raise IaslError(run.stdout + run.stderr)
        return run.stdout

    def extract(self, dump: str) -> dict[str, bytes]:
        """``acpixtract -a``: each table of a dump by its file name (``dsdt.dat``)."""
        with tempfile.TemporaryDirectory(prefix="acpixtract-") as folder:
            (Path(folder) / "dump.txt").write_text(dump)
            run = subprocess.run(
                [self.acpixtract, "-a", "dump.txt"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
            )
            if run.returncode != 0:
                raise IaslError(run.stdout + run.stderr)
            return {path.name: path.read_bytes() for path in sorted(Path(folder).glob("*.dat"))}
