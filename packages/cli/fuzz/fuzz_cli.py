"""Coverage-guided fuzzing of `cloud-hypervisor`'s command line, up to a checked VmConfig.

The input is a command line, one argument per line (decoded as Linux decodes
argv: UTF-8 with surrogate escapes). It goes the way `cli.main` takes it:
`parse_args` (clap's rules), the VMM-process options, the VM options through
`parse_vm_config` and `validate` (files not checked) and the capability gate.
Only the typed errors may come out: UsageError for the command line,
ConfigError (OptionError, ValidationError) for the values. A parsed VmConfig
must come back unchanged from its command-line form (`to_vm_params`) and,
file descriptors aside, from its JSON form; a validated one from its JSON form.

The seeds are a few real command lines and one per option key, with a value
that the key's own parser accepts; the dictionary holds every flag and key.

    python packages/cli/fuzz/fuzz_cli.py -runs=1000000   # needs atheris
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

with atheris.instrument_imports():
    # vmm.config.json and .unparse load on first use: imported here to be instrumented.
    import vmm.config.json
    import vmm.config.unparse  # noqa: F401
    from cli.args import UsageError, parse_args
    from cli.main import build_vmm_options, vm_params
    from cli.options import OPTIONS as CLI_OPTIONS
    from vmm.config import ConfigError, VmConfig, parse_vm_config, to_vm_params, validate
    from vmm.config.capabilities import refuse_unbuilt
    from vmm.config.declarations import OPTIONS
    from vmm.config.schema import Arity

from vmm.testing.fuzzing import key_example, libfuzzer_argv, option_examples

# Real command lines (CH's README and the project's boot tests), one argument per line.
COMMAND_LINES = (
    ["--kernel", "vmlinux", "--cmdline", "console=ttyS0 root=/dev/vda1 rw", "--disk",
     "path=focal.raw", "--cpus", "boot=4", "--memory", "size=1024M", "--net",
     "tap=,mac=,ip=,mask=", "--rng"],
    ["--kernel", "vmlinux", "--initramfs", "initramfs.cpio", "--cpus", "boot=2",
     "--memory", "size=256M", "--serial", "tty", "--console", "off", "-vv"],
    ["--firmware", "hypervisor-fw", "--disk", "path=a.raw", "path=b.qcow2,readonly=on",
     "--disk", "path=c.raw,num_queues=2,queue_size=128", "--api-socket", "/tmp/ch.sock"],
    ["--kernel", "bzImage", "--memory", "size=1G,hugepages=on", "--memory-zone",
     "id=z0,size=512M", "--numa", "guest_numa_id=0,cpus=[0-1],memory_zones=[z0]"],
    ["--api-socket", "path=/tmp/ch.sock", "--event-monitor", "fd=3", "--log-file", "ch.log",
     "--seccomp", "false", "--no-shutdown"],
    ["--kernel=vmlinux", "--cmdline=reboot=k panic=1", "--net", "tap=tap0", "tap=tap1,mtu=1400",
     "--serial", "file=serial.log", "--watchdog", "--pvpanic", "--rtc"],
    ["--help"],
    ["-V"],
)  # fmt: skip


def seeds() -> Iterator[bytes]:
    for line in COMMAND_LINES:
        yield "\n".join(line).encode()
    for option, text in option_examples():
        value = [] if option.arity is Arity.FLAG else [text]
        yield "\n".join(["--kernel", "vmlinux", option.flag, *value]).encode()


def words() -> Iterator[bytes]:
    for spec in CLI_OPTIONS:
        if spec.long:
            yield f"--{spec.long}".encode()
        if spec.short:
            yield f"-{spec.short}".encode()
    for option in OPTIONS:
        for key in option.keys:
            yield key_example(key).encode()
            yield f"{key.name}=".encode()
    yield from (b"\n", b",", b"=", b'"', b"[", b"]", b"@", b"-", b"--", b"0x")
    yield from (b"255", b"65535", b"4294967295", b"18446744073709551615", b"-1", b"99999999")


def check_command_line(config: VmConfig) -> None:
    """A parsed config comes back from the command line that `to_vm_params` writes."""
    assert parse_vm_config(to_vm_params(config)) == config, to_vm_params(config)


def check_json(config: VmConfig) -> None:
    """A config comes back from its JSON, once file descriptors are (meaningless in JSON,
    they are -1 there, as in CH)."""
    decoded = VmConfig.from_json(config.to_json())
    assert VmConfig.from_json(decoded.to_json()) == decoded, decoded.to_json()


def test_one(data: bytes) -> None:
    argv = data.decode("utf-8", "surrogateescape").split("\n") if data else []
    try:
        args = parse_args(argv)
    except UsageError:
        return
    with contextlib.suppress(ConfigError):
        build_vmm_options(args)
    try:
        config = parse_vm_config(vm_params(args))
    except ConfigError:
        return
    check_command_line(config)
    check_json(config)
    try:
        # What validate adds (iommu=on for a device behind the IOMMU) has no option.
        config = validate(config, check_files=False)
    except ConfigError:
        return
    check_json(config)
    with contextlib.suppress(ConfigError):
        refuse_unbuilt(config)


def main() -> None:
    # Command lines of at most 1 KiB: longer ones only repeat options, at a third of the speed.
    argv = libfuzzer_argv(sys.argv, "fuzz_cli", seeds=seeds(), words=words(), max_len=1024)
    atheris.Setup(argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
