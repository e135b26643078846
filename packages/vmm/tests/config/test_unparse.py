"""to_vm_params: a config written back as the command line that builds it, defaults left out."""

from __future__ import annotations

from vmm.config import VmParams, parse_vm_config, to_vm_params


def test_defaults_are_left_out() -> None:
    params = to_vm_params(parse_vm_config(VmParams(kernel="/k")))
    assert params.cpus == "boot=1,max=1"
    assert params.memory == "size=512M"
    assert params.rng == "src=/dev/urandom"
    assert (params.serial, params.console, params.debug_console) == (
        "null",
        "tty",
        "off,iobase=0xe9",
    )
    assert params.disks == ()


def test_only_what_differs_from_the_defaults_is_written() -> None:
    config = parse_vm_config(
        VmParams(
            kernel="/k",
            cmdline="console=ttyS0 quiet",
            memory="size=1G,shared=on",
            disks=("path=/a,readonly=on,num_queues=1",),
            net=("tap=tap0,num_queues=2,queue_size=256",),
        )
    )
    params = to_vm_params(config)
    assert params.memory == "size=1G,shared=on"
    assert params.disks == ("path=/a,readonly=on",)
    assert params.net == ("tap=tap0",)
    assert params.cmdline == "console=ttyS0 quiet"


def test_values_with_commas_are_quoted() -> None:
    config = parse_vm_config(VmParams(kernel="/k", disks=('path="/images/a,b.img"',)))
    assert to_vm_params(config).disks == ('path="/images/a,b.img"',)


def test_max_vcpus_is_always_written_since_its_default_follows_boot() -> None:
    config = parse_vm_config(VmParams(kernel="/k", cpus="boot=2,max=2"))
    assert to_vm_params(config).cpus == "boot=2,max=2"
