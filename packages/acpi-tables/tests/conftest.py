"""Fixtures: ACPICA's tools, or a skip that says how to get them."""

from __future__ import annotations

import pytest
from acpi_tables.testing import AcpiDump, Iasl

MISSING = "{} is not installed (Debian package acpica-tools; scripts/dev_cli.sh tests installs it)"


@pytest.fixture(scope="session")
def iasl() -> Iasl:
    found = Iasl.find()
    if found is None:
        pytest.skip(MISSING.format("iasl"))
    return found


@pytest.fixture(scope="session")
def acpidump() -> AcpiDump:
    found = AcpiDump.find()
    if found is None:
        pytest.skip(MISSING.format("acpidump/acpixtract"))
    return found
