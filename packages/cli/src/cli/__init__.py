"""The `cloud-hypervisor` command line, option for option like Cloud Hypervisor's."""

__version__ = "0.1.0"
