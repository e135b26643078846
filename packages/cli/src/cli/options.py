"""The options of `cloud-hypervisor`: names, value counts, defaults and help, as CH's clap app.

One table drives parsing, `--help` and the "requires a payload" rule, so an
option added here is parsed, documented and grouped at once.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from vmm.config.model import DEFAULT_CONSOLE_MODE

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from vmm.config.record import dataclass

__all__ = ["ABOUT", "OPTIONS", "Arity", "Group", "OptionSpec", "by_long", "by_short"]

ABOUT = "Launch a cloud-hypervisor VMM."


class Arity(enum.Enum):
    FLAG = "flag"  # --watchdog
    COUNT = "count"  # -vvv
    ONE = "one"  # --kernel PATH (once)
    MANY = "many"  # --disk A B --disk C (repeatable, several values each)
    OPTIONAL = "optional"  # --rtc or --rtc VALUE


class Group(enum.Enum):
    VM = "vm-config"  # needs a payload (--kernel or --firmware)
    PAYLOAD = "vm-payload"
    VMM = "vmm-config"
    LOGGING = "logging"
    NONE = "none"


@dataclass(frozen=True, kw_only=True)
class OptionSpec:
    name: str
    arity: Arity
    group: Group
    help: str
    long: str | None = None
    short: str | None = None
    default: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        """How clap names the option in errors: `--kernel <kernel>`."""
        flag = f"--{self.long}" if self.long else f"-{self.short}"
        return flag if self.arity in (Arity.FLAG, Arity.COUNT) else f"{flag} <{self.name}>"


_PCI = "id=<device_id>,pci_segment=<segment_id>,pci_device_id=<pci_slot>"
_RATE = (
    "bw_size=<bytes>,bw_one_time_burst=<bytes>,bw_refill_time=<ms>,"
    "ops_size=<io_ops>,ops_one_time_burst=<io_ops>,ops_refill_time=<ms>"
)


def _opt(
    name: str,
    arity: Arity,
    group: Group,
    help_text: str,
    *,
    default: str | None = None,
    short: str | None = None,
    long: bool = True,
    choices: tuple[str, ...] = (),
) -> OptionSpec:
    return OptionSpec(
        name=name,
        arity=arity,
        group=group,
        help=help_text,
        long=name if long else None,
        short=short,
        default=default,
        choices=choices,
    )


OPTIONS: tuple[OptionSpec, ...] = (
    _opt("api-socket", Arity.ONE, Group.VMM,
         "HTTP API socket (UNIX domain socket): path=<path> or fd=<fd>."),
    _opt("balloon", Arity.ONE, Group.VM,
         'Balloon parameters "size=<balloon_size>,deflate_on_oom=on|off,'
         f'free_page_reporting=on|off,iommu=on|off,{_PCI}"'),
    _opt("cmdline", Arity.ONE, Group.VM, "Kernel command line"),
    _opt("console", Arity.ONE, Group.VM,
         'Control (virtio) console: "off|null|pty|tty|file=<path>,iommu=on|off,'
         f'{_PCI}"',
         default=DEFAULT_CONSOLE_MODE.value.lower()),
    _opt("cpus", Arity.ONE, Group.VM,
         "boot=<boot_vcpus>,max=<max_vcpus>,"
         "topology=<threads_per_core>:<cores_per_die>:<dies_per_package>:<packages>,"
         "kvm_hyperv=on|off,max_phys_bits=<maximum_number_of_physical_bits>,"
         "affinity=<list_of_vcpus_with_their_associated_cpuset>,"
         "features=<list_of_features_to_enable>,nested=on|off,core_scheduling=vm|vcpu|off",
         default="boot=1,max_phys_bits=46"),
    _opt("debug-console", Arity.ONE, Group.VM,
         "Debug console: off|pty|tty|file=<path>,iobase=<port in hex>",
         default="off,iobase=0xe9"),
    _opt("device", Arity.MANY, Group.VM,
         'Direct device assignment parameters "path=<device_path>,fd=<vfio_cdev_fd>,'
         f'iommu=on|off,{_PCI},x_nv_gpudirect_clique=<clique_id>,'
         'x_exclude_mmap_bars=[<bar>...]"'),
    _opt("disk", Arity.MANY, Group.VM,
         'Disk parameters "path=<disk_image_path>,readonly=on|off,direct=on|off,iommu=on|off,'
         "num_queues=<number_of_queues>,queue_size=<size_of_each_queue>,"
         f"vhost_user=on|off,socket=<vhost_user_socket_path>,{_RATE},{_PCI},"
         "rate_limit_group=<group_id>,"
         "queue_affinity=<list_of_queue_indices_with_their_associated_cpuset>,"
         "serial=<serial_number>,backing_files=on|off,sparse=on|off,"
         'image_type=<raw,qcow2,vhd,vhdx>,lock_granularity=byte-range|full"'),
    _opt("event-monitor", Arity.ONE, Group.VMM,
         "Path to report events on: path=<path> or fd=<fd>"),
    _opt("firmware", Arity.ONE, Group.PAYLOAD,
         "Path to firmware that is loaded in an architectural specific way"),
    _opt("fs", Arity.MANY, Group.VM,
         'virtio-fs parameters "tag=<tag_name>,socket=<socket_path>,'
         f'num_queues=<number_of_queues>,queue_size=<size_of_each_queue>,{_PCI}"'),
    _opt("generic-vhost-user", Arity.MANY, Group.VM,
         'generic vhost-user parameters "device_type=<ID number or symbolic name>,'
         f'socket=<socket_path>,queue_sizes=<list of queue sizes>,{_PCI}"'),
    _opt("initramfs", Arity.ONE, Group.VM, "Path to initramfs image"),
    _opt("kernel", Arity.ONE, Group.PAYLOAD,
         "Path to kernel to load. This may be a kernel or firmware that supports a PVH "
         "entry point (e.g. vmlinux) or architecture equivalent"),
    _opt("landlock", Arity.FLAG, Group.VM, "enable/disable Landlock."),
    _opt("landlock-rules", Arity.MANY, Group.VM,
         'Landlock parameters "path=<path/to/{file/dir}>,access=[rw]"'),
    _opt("log-file", Arity.ONE, Group.LOGGING,
         "Log file. Standard error is used if not specified"),
    _opt("log-format", Arity.ONE, Group.LOGGING,
         "Log format. Tokens: {boottime}, {wallclock}, {thread}, {level}, {location}, {msg}",
         default="cloud-hypervisor: {boottime}s: <{thread}> {level}:{location} -- {msg}"),
    _opt("memory", Arity.ONE, Group.VM,
         'Memory parameters "size=<guest_memory_size>,mergeable=on|off,shared=on|off,'
         "hugepages=on|off,hugepage_size=<hugepage_size>,hotplug_method=acpi|virtio-mem,"
         "hotplug_size=<hotpluggable_memory_size>,hotplugged_size=<hotplugged_memory_size>,"
         'prefault=on|off,reserve=on|off,thp=on|off"',
         default="size=512M"),
    _opt("memory-zone", Arity.MANY, Group.VM,
         'User defined memory zone parameters "size=<guest_memory_region_size>,'
         "file=<backing_file>,shared=on|off,hugepages=on|off,hugepage_size=<hugepage_size>,"
         "host_numa_node=<node_id>,id=<zone_identifier>,hotplug_size=<hotpluggable_memory_size>,"
         'hotplugged_size=<hotplugged_memory_size>,prefault=on|off,reserve=on|off"'),
    _opt("net", Arity.MANY, Group.VM,
         'Network parameters "tap=<if_name>,ip=<ip_addr>,mask=<net_mask>,mac=<mac_addr>,'
         "fd=<[fd1,fd2,...]>,iommu=on|off,num_queues=<number_of_queues>,"
         "queue_size=<size_of_each_queue>,id=<device_id>,vhost_user=<vhost_user_enable>,"
         f"socket=<vhost_user_socket_path>,vhost_mode=client|server,{_RATE},"
         "pci_segment=<segment_id>,pci_device_id=<pci_slot>,host_mac=<host_mac_addr>,"
         'mtu=<mtu>,offload_tso=on|off,offload_ufo=on|off,offload_csum=on|off"'),
    _opt("no-shutdown", Arity.FLAG, Group.VMM, "Do not exit the VMM when the guest shuts down"),
    _opt("numa", Arity.MANY, Group.VM,
         'Settings related to a given NUMA node "guest_numa_id=<node_id>,cpus=<cpus_id>,'
         "distances=<list_of_distances_to_destination_nodes>,device_id=<device_id>,"
         'memory_zones=<list_of_memory_zones>,pci_segments=<list_of_pci_segments>"'),
    _opt("pci-segment", Arity.MANY, Group.VM,
         'PCI Segment parameters "pci_segment=<segment_id>,'
         'mmio32_aperture_weight=<scale>,mmio64_aperture_weight=<scale>"'),
    _opt("platform", Arity.ONE, Group.VM,
         'Platform configuration parameters "num_pci_segments=<num_pci_segments>,'
         "iommu_segments=<list_of_segments>,iommu_address_width=<bits>,iommufd=on|off,"
         "iommufd_fd=<fd>,vfio_p2p_dma=on|off,system_manufacturer=<dmi_system_manufacturer>,"
         "system_product_name=<dmi_system_product_name>,system_version=<dmi_system_version>,"
         "system_serial_number=<dmi_system_serial_number>,system_uuid=<dmi_system_uuid>,"
         "system_sku_number=<dmi_system_sku_number>,system_family=<dmi_system_family>,"
         'oem_strings=<list_of_strings>,chassis_asset_tag=<dmi_chassis_asset_tag>"'),
    _opt("pmem", Arity.MANY, Group.VM,
         'Persistent memory parameters "file=<backing_file_path>,'
         f'size=<persistent_memory_size>,iommu=on|off,discard_writes=on|off,{_PCI}"'),
    _opt("pvpanic", Arity.FLAG, Group.VM, "Enable pvpanic device"),
    _opt("rate-limit-group", Arity.MANY, Group.VM,
         f'Rate Limit Group parameters "{_RATE},id=<device_id>"'),
    _opt("restore", Arity.ONE, Group.VMM,
         'Restore from a VM snapshot: "source_url=<source_url>,prefault=on|off,..." '
         "(not available yet)"),
    # OPTIONAL: CH's README lines end with a bare `--rng` (= src=/dev/urandom).
    _opt("rng", Arity.OPTIONAL, Group.VM,
         'Random number generator parameters "src=<entropy_source_path>,iommu=on|off,'
         'pci_segment=<segment_id>,pci_device_id=<pci_slot>". Passing --rng with no '
         "arguments uses src=/dev/urandom.",
         default="src=/dev/urandom"),
    _opt("rtc", Arity.OPTIONAL, Group.VM,
         f'Virtio RTC parameters "iommu=on|off,{_PCI}". Passing --rtc with no arguments '
         "enables the device with default settings."),
    _opt("seccomp", Arity.ONE, Group.NONE,
         "Seccomp filter mode (filters are not implemented yet)",
         default="true", choices=("true", "false", "log", "errno")),
    _opt("serial", Arity.ONE, Group.VM,
         'Control serial port: "off|null|pty|tty|file=<path>|socket=<path>"', default="null"),
    _opt("tpm", Arity.ONE, Group.VM,
         'TPM device "(UNIX Domain Socket from swtpm) socket=</path/to/a/socket>"'),
    _opt("user-device", Arity.MANY, Group.VM,
         f'Userspace device socket=<socket_path>,{_PCI}"'),
    _opt("v", Arity.COUNT, Group.LOGGING, "Sets the level of debugging output",
         short="v", long=False),
    _opt("vdpa", Arity.MANY, Group.VM,
         'vDPA device "path=<device_path>,num_queues=<number_of_queues>,iommu=on|off,'
         f'{_PCI}"'),
    _opt("version", Arity.FLAG, Group.NONE, "Print version", short="V"),
    _opt("vsock", Arity.ONE, Group.VM,
         'Virtio VSOCK parameters "cid=<context_id>,socket=<socket_path>,iommu=on|off,'
         f'{_PCI}"'),
    _opt("watchdog", Arity.FLAG, Group.VM, "Enable virtio-watchdog"),
    _opt("help", Arity.FLAG, Group.NONE, "Print help", short="h"),
)  # fmt: skip


def by_long() -> dict[str, OptionSpec]:
    return {spec.long: spec for spec in OPTIONS if spec.long}


def by_short() -> dict[str, OptionSpec]:
    return {spec.short: spec for spec in OPTIONS if spec.short}
