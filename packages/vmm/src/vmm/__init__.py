"""The VMM of a Python Cloud Hypervisor: builds and runs a KVM virtual machine from a VmConfig."""

__version__ = "0.1.0"
