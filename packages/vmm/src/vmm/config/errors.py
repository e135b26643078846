"""Configuration errors: one family, each error naming the option or field at fault.

A command-line user needs the option (`--memory`), an API client needs the JSON
path (`disks[0].path`); every error carries what it can of both so that the
front end shows the one its user typed.
"""

from __future__ import annotations

# Which command-line option fills each top-level VmConfig field: lets a
# validation error found in the built config name the option the user typed.
_OPTION_OF_FIELD = {
    "cpus": "--cpus",
    "memory": "--memory",
    "memory.zones": "--memory-zone",
    "payload": "--kernel",
    "payload.kernel": "--kernel",
    "payload.firmware": "--firmware",
    "payload.initramfs": "--initramfs",
    "payload.cmdline": "--cmdline",
    "rate_limit_groups": "--rate-limit-group",
    "disks": "--disk",
    "net": "--net",
    "rng": "--rng",
    "balloon": "--balloon",
    "fs": "--fs",
    "generic_vhost_user": "--generic-vhost-user",
    "pmem": "--pmem",
    "serial": "--serial",
    "console": "--console",
    "debug_console": "--debug-console",
    "devices": "--device",
    "user_devices": "--user-device",
    "vdpa": "--vdpa",
    "vsock": "--vsock",
    "numa": "--numa",
    "rtc": "--rtc",
    "pci_segments": "--pci-segment",
    "platform": "--platform",
    "tpm": "--tpm",
    "landlock_rules": "--landlock-rules",
    "landlock_enable": "--landlock",
    "pvpanic": "--pvpanic",
    "watchdog": "--watchdog",
}


class ConfigError(Exception):
    """A VM configuration is malformed or cannot be booted.

    `where` is the option (`--memory`) or field path (`disks[0].path`) at
    fault and `message` says what is wrong with it; `str()` joins the two.
    """

    def __init__(self, where: str, message: str) -> None:
        super().__init__(where, message)
        self.where = where
        self.message = message

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class OptionError(ConfigError):
    """A command-line option value does not parse (`--memory size=12Q`).

    `option` is the option name with its dashes, `key` the `key=value` key at
    fault when there is one, and `value` the offending text.
    """

    def __init__(
        self, option: str, message: str, *, key: str | None = None, value: str | None = None
    ) -> None:
        super().__init__(option, message)
        self.option = option
        self.key = key
        self.value = value


class JsonError(ConfigError):
    """A JSON VmConfig (CH's OpenAPI shape) has an unknown field or a value of the wrong type.

    `path` is the field path such as `disks[0].num_queues`; `$` is the document itself.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path


class ValidationError(ConfigError):
    """A well-formed configuration that cannot be booted (max vCPUs below boot vCPUs, ...).

    `path` is the field path (`cpus.max_vcpus`, `disks[1].path`); `option` is
    the command-line option that sets it, so the CLI can name what the user typed.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path

    @property
    def option(self) -> str | None:
        """The command-line option behind `path`, or None for fields no option sets."""
        head = path_head(self.path)
        two = ".".join(self.path.split(".", 2)[:2])
        return _OPTION_OF_FIELD.get(_strip_index(two)) or _OPTION_OF_FIELD.get(head)

    def for_option(self) -> str:
        """The message as the command line shows it: `--cpus: Max CPUs (1) lower than ...`."""
        option = self.option
        return f"{option}: {self.message}" if option else str(self)


def path_head(path: str) -> str:
    """The top-level field of a path: `disks[0].path` -> `disks`."""
    return _strip_index(path.split(".", 1)[0])


def _strip_index(part: str) -> str:
    return part.split("[", 1)[0] if "[" in part else part
