"""The ACPI platform seen from inside a Linux guest: PCI through MCFG, NUMA, DMI, power.

One VM, two boots of the ACPI kernel (`vmlinux-acpi`, which
`scripts/dev_cli.sh tests` finds or builds: `tests/harness.py`), one vCPU and
two memory zones, one per NUMA node (node 1 has memory and no CPU: one
vCPU boots in half the time of two on this host). Each boot the guest's script prints what
it finds (nodes, their CPUs, memory and distances; the DMI strings; PCI
config space size), then opens the power button's input device and waits
for a key on it. The test presses `ch-remote power-button`; the guest then does
what a small disk says: the first time `reboot -f` (`reboot=a`: the FADT's
reset register), which the VMM turns into a new boot of the same VM; the
second time `poweroff -f` (S5 through the sleep control register), after
which the VMM exits 0, as Cloud Hypervisor's does without --no-shutdown.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from harness import Guest, VmmProcess, find_acpi_kernel, vmm_executable

pytestmark = [pytest.mark.kvm, pytest.mark.slow]

TIMEOUT = 600.0
MIB = 1 << 20
ACTION_OFFSET = MIB  # past what the kernel's partition scan reads (and its readahead)
UUID = "4e8e7f2a-1c3b-4d5e-8f90-a1b2c3d4e5f6"
PLATFORM = (
    f"serial_number=SN-4242,uuid={UUID},oem_strings=[oem-one,oem-two],"
    "system_manufacturer=ACME,system_product_name=Roadrunner,chassis_asset_tag=TAG-7"
)

SCRIPT = f"""\
cd /sys/devices/system/node
echo "NODES=$(echo node*)"
echo "NODE0=$(cat node0/cpulist) $(cat node0/distance)"
echo "NODE1=$(cat node1/cpulist) $(cat node1/distance)"
echo "NODE1-MEM-KB=$(grep MemTotal node1/meminfo | tr -s ' ' | cut -d' ' -f4)"
cd /sys/class/dmi/id
echo "DMI=$(cat sys_vendor)|$(cat product_name)|$(cat product_serial)|$(cat chassis_asset_tag)"
echo "DMI-UUID=$(cat product_uuid)"
echo "OEM=$(tail -c +6 /sys/firmware/dmi/entries/11-0/raw | tr '\\0' '|' | cut -d'|' -f1,2)"
for d in /sys/bus/pci/devices/*; do echo "PCI=$(cat $d/vendor):$(wc -c <$d/config)"; done
dmesg | grep -e MMCONFIG -e 'Power Button' -e 'ACPI: Reduced' | sed 's/^/DMESG: /'
exec 3</dev/input/event0
echo WAITING-FOR-POWER-BUTTON
head -c 24 <&3 >/dev/null
action=$(dd if=/dev/vda bs=4096 skip={ACTION_OFFSET // 4096} count=1 2>/dev/null | tr -d '\\0')
echo "ACTION=$action"
$action -f
"""


def _acpi_kernel() -> Path:
    kernel = find_acpi_kernel()
    if kernel is None:
        pytest.fail(
            "no vmlinux-acpi with the power button, NUMA and DMI: scripts/dev_cli.sh tests "
            "builds one, or run VARIANTS=acpi scripts/guest/build.sh DIR and set "
            "CH_ACPI_GUEST_DIR=DIR"
        )
    return kernel


def _set_action(disk: Path, action: str) -> None:
    with disk.open("r+b") as file:
        file.seek(ACTION_OFFSET)
        file.write(action.encode().ljust(4096, b"\0"))


def _power_button(socket: Path) -> None:
    subprocess.run(
        [vmm_executable("ch-remote"), "--api-socket", str(socket), "power-button"],
        check=True,
        timeout=30,
    )


def _check_boot(process: VmmProcess) -> None:
    found = process.wait_for_all(
        ["NODES=", "NODE0=", "NODE1=", "NODE1-MEM-KB=", "DMI=", "DMI-UUID=", "OEM=", "PCI="],
        TIMEOUT,
    )
    value = {marker: line.split(marker, 1)[1].strip() for marker, line in found.items()}
    assert value["NODES="] == "node0 node1"
    assert value["NODE0="] == "0 10 25"
    assert value["NODE1="] == "25 10"  # no CPU: an empty cpulist
    assert 40 * 1024 < int(value["NODE1-MEM-KB="]) <= 64 * 1024
    assert value["DMI="] == "ACME|Roadrunner|SN-4242|TAG-7"
    assert value["DMI-UUID="] == UUID
    assert value["OEM="] == "oem-one|oem-two"
    process.wait_for("WAITING-FOR-POWER-BUTTON", TIMEOUT)
    pci = [line.split("PCI=", 1)[1] for line in process.lines if "PCI=" in line]
    # Linux reads the host bridge's extended config space (offset 256 and up: 4096
    # bytes) only through ECAM, which it found in the MCFG; virtio is conventional PCI.
    assert "0x8086:4096" in pci, pci
    assert "0x1af4:256" in pci, pci
    dmesg = "\n".join(line for line in process.lines if "DMESG:" in line)
    assert "MMCONFIG" in dmesg, dmesg
    assert "reserved" in dmesg, dmesg
    assert "Power Button" in dmesg, dmesg


def test_acpi_guest_sees_numa_dmi_pci_and_obeys_the_power_button(
    vmm: type[VmmProcess], guest: Guest, tmp_path: Path
) -> None:
    kernel = _acpi_kernel()
    disk = tmp_path / "action.raw"
    disk.write_bytes(bytes(2 * MIB))
    _set_action(disk, "reboot")
    socket, events = tmp_path / "api.sock", tmp_path / "events.json"
    cmdline = guest.cmdline(SCRIPT).replace(" pci=off", "").replace("reboot=k", "reboot=a")
    process = vmm(
        [
            "--kernel", str(kernel),
            "--initramfs", str(guest.initramfs),
            "--cmdline", cmdline,
            "--cpus", "boot=1",
            "--memory", "size=0",
            "--memory-zone", "id=near,size=96M", "id=far,size=64M,shared=on",
            "--numa",
            "guest_numa_id=0,cpus=[0],distances=[1@25],memory_zones=[near]",
            "guest_numa_id=1,distances=[0@25],memory_zones=[far]",
            "--platform", PLATFORM,
            "--disk", f"path={disk}",
            "--api-socket", f"path={socket}",
            "--event-monitor", f"path={events}",
            "--serial", "tty", "--console", "off",
        ]
    )  # fmt: skip
    _check_boot(process)
    _power_button(socket)
    process.wait_for("ACTION=reboot", TIMEOUT)

    # The ACPI reset rebooted the VM: the same config, booted again.
    process.lines.clear()
    _check_boot(process)
    _set_action(disk, "poweroff")
    _power_button(socket)
    process.wait_for("ACTION=poweroff", TIMEOUT)
    assert process.wait(TIMEOUT) == 0  # S5: the VM ended, and with it the VMM

    kinds = [(e["source"], e["event"]) for e in _events(events)]
    assert ("vm", "rebooting") in kinds
    assert ("vm", "rebooted") in kinds
    assert kinds[-1] == ("vmm", "shutdown")


def _events(path: Path) -> list[dict[str, str]]:
    """The event monitor's pretty-printed objects, separated by blank lines."""
    decoder, text = json.JSONDecoder(), path.read_text()
    events: list[dict[str, str]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return events
        event, position = decoder.raw_decode(text, position)
        events.append(event)
