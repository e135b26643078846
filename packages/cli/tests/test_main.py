"""`cloud-hypervisor` end to end: exit statuses, one-line errors, --help, --version, logging."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import vmm
from cli import __version__
from cli.args import parse_args
from cli.main import build_config, build_vmm_options, main
from vmm.config import ApiSocketConfig, ConsoleOutputMode, EventMonitorConfig


def _fails(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 1) -> str:
    assert main(list(argv)) == status
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.out == ""
    return captured.err


SECCOMP_WARNING = "--seccomp: no seccomp filter is applied yet"


def _one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The error line (past the seccomp warning a VM that gets that far prints first)."""
    err = _fails(capsys, *argv)
    err = "".join(line for line in err.splitlines(True) if SECCOMP_WARNING not in line)
    assert err.count("\n") == 1
    assert err.startswith("cloud-hypervisor: error: ")
    return err.removeprefix("cloud-hypervisor: error: ").rstrip("\n")


def test_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"cloud-hypervisor v{__version__}\n"


def test_help_lists_every_option_with_chs_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Launch a cloud-hypervisor VMM.\n\nUsage: cloud-hypervisor [OPTIONS]")
    for option in (
        "--kernel <kernel>",
        "--cpus <cpus>",
        "--memory <memory>",
        "--disk <disk>...",
        "--serial <serial>",
        "--console <console>",
        "--log-file <log-file>",
        "-v...",
    ):
        assert option in out
    assert "[default: size=512M]" in out
    assert "Kernel command line" in out


def test_no_arguments_print_help_and_fail(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "Usage: cloud-hypervisor [OPTIONS]" in capsys.readouterr().err


def test_an_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(capsys, "--kernel", "/k", "--bogus", status=2)
    assert err.startswith("cloud-hypervisor: error: unexpected argument '--bogus' found\n")
    assert "For more information, try '--help'." in err


def test_a_missing_kernel_file_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    message = _one_line_error(capsys, "--kernel", str(tmp_path / "vmlinux"))
    assert message == f"--kernel: cannot open '{tmp_path / 'vmlinux'}': No such file or directory"


def test_a_file_that_is_not_a_kernel_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a kernel\n" * 100)
    message = _one_line_error(capsys, "--kernel", str(notes))
    assert (
        message
        == f"--kernel: '{notes}' is not a Linux kernel: neither an ELF vmlinux nor a bzImage"
    )


def test_too_little_memory_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], kernel: str
) -> None:
    message = _one_line_error(capsys, "--kernel", kernel, "--memory", "size=16M")
    assert (
        message
        == "--memory: 16 MiB of guest memory is too little: a Linux guest needs at least 64 MiB"
    )


def test_a_bad_size_is_a_one_line_error(capsys: pytest.CaptureFixture[str], kernel: str) -> None:
    message = _one_line_error(capsys, "--kernel", kernel, "--memory", "size=12Q")
    assert message.startswith(
        "--memory: invalid value '12Q' for size: expected a size such as 512M"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--cpus", "boot=2,max=1"], "--cpus: Max CPUs (1) lower than boot CPUs (2)"),
        (["--cpus", "boot=x"], "--cpus: invalid value 'x' for boot: expected a decimal integer"),
        (["--cpus", "boot=2,topology=1:1:1"], "--cpus: invalid value '1:1:1' for topology"),
        (["--memory", "size=1G,shared=maybe"], "--memory: invalid value 'maybe' for shared"),
        (["--serial", "telnet"], "--serial: unknown option 'telnet'"),
        (["--disk", "path=/nonexistent.img"], "--disk: cannot open '/nonexistent.img'"),
        (["--disk", "readonly=on"], "--disk: Disk path missing"),
        (["--net", "mac=zz"], "--net: invalid value 'zz' for mac"),
        (["--net", "ip=10.0.0.1"], "--net: IP provided without a mask"),
        (["--rng", "src=/nonexistent"], "--rng: cannot open '/nonexistent'"),
        (["--event-monitor", "foo=1"], "--event-monitor: unknown option 'foo'"),
    ],
)
def test_bad_option_values_are_one_line_errors_naming_the_option(
    capsys: pytest.CaptureFixture[str], kernel: str, argv: list[str], expected: str
) -> None:
    assert _one_line_error(capsys, "--kernel", kernel, *argv).startswith(expected)


def test_console_pty_is_not_available_yet(capsys: pytest.CaptureFixture[str], kernel: str) -> None:
    message = _one_line_error(capsys, "--kernel", kernel, "--console", "pty")
    assert message.startswith("--console: console mode pty is not available yet")


def test_restore_is_not_available_yet(capsys: pytest.CaptureFixture[str]) -> None:
    message = _one_line_error(capsys, "--restore", "source_url=file:///snap")
    assert message == "--restore: restoring a snapshot is not available yet"


def test_without_a_payload_or_api_socket_there_is_nothing_to_boot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _one_line_error(capsys, "-v").startswith("no VM to boot")


def test_a_log_file_that_cannot_be_created_is_an_error(
    capsys: pytest.CaptureFixture[str], kernel: str, tmp_path: Path
) -> None:
    message = _one_line_error(
        capsys, "--kernel", kernel, "--log-file", str(tmp_path / "no/dir/log")
    )
    assert message.startswith("--log-file: cannot create")


def test_an_unknown_log_format_token_is_an_error(
    capsys: pytest.CaptureFixture[str], kernel: str
) -> None:
    message = _one_line_error(capsys, "--kernel", kernel, "--log-format", "{nope} {msg}")
    assert message.startswith("--log-format: unknown token {nope}")


def test_build_config_gives_the_validated_config(kernel: str) -> None:
    args = parse_args(["--kernel", kernel, "--cpus", "boot=2", "--memory", "size=1G",
                       "--serial", "tty", "--cmdline", "console=ttyS0"])  # fmt: skip
    config = build_config(args)
    assert (config.cpus.boot_vcpus, config.memory.size) == (2, 1 << 30)
    assert config.serial.mode is ConsoleOutputMode.TTY
    assert config.payload is not None
    assert config.payload.cmdline == "console=ttyS0"


def test_build_config_matches_chs_defaults(kernel: str) -> None:
    config = build_config(parse_args(["--kernel", kernel]))
    assert (config.cpus.boot_vcpus, config.memory.size) == (1, 512 << 20)
    assert config.serial.mode is ConsoleOutputMode.NULL
    assert config.console.mode is ConsoleOutputMode.TTY
    assert config.rng.src == "/dev/urandom"


def test_a_bare_rng_reads_dev_urandom_as_in_chs_readme(kernel: str) -> None:
    config = build_config(parse_args(["--kernel", kernel, "--rng"]))
    assert config.rng.src == "/dev/urandom"
    config = build_config(parse_args(["--kernel", kernel, "--rng", "--serial", "tty"]))
    assert config.rng.src == "/dev/urandom"


def test_vmm_options_hold_api_socket_and_event_monitor() -> None:
    args = parse_args(["--api-socket", "fd=3", "--event-monitor", "path=/tmp/ev", "-vv"])
    options = build_vmm_options(args)
    assert options.api_socket == ApiSocketConfig(fd=3)
    assert options.event_monitor == EventMonitorConfig(path="/tmp/ev")
    assert options.verbosity == 2


def test_a_failing_vmm_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(config: object, **options: object) -> int:
        raise RuntimeError("KVM_CREATE_VM failed: Device or resource busy")

    monkeypatch.setattr(vmm, "run", fail)
    assert _one_line_error(capsys, "--kernel", kernel) == (
        "KVM_CREATE_VM failed: Device or resource busy"
    )


def test_the_vm_exit_status_is_the_command_status(
    kernel: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = []

    def run(config: object, **options: object) -> int:
        logging.getLogger("vmm.test").info("running")
        seen.append(config)
        return 3

    monkeypatch.setattr(vmm, "run", run)
    log_file = tmp_path / "ch.log"
    assert main(["--kernel", kernel, "-v", "--log-file", str(log_file)]) == 3
    assert len(seen) == 1
    log = log_file.read_text()
    assert "INFO:" in log
    assert "-- running" in log
    assert log.startswith("cloud-hypervisor: ")


def test_the_command_runs_as_a_real_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())",
         "--kernel", str(tmp_path / "missing"), "--memory", "size=1G"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("cloud-hypervisor: error: --kernel: cannot open")
    assert "Traceback" not in result.stderr


def test_default_seccomp_warns_that_no_filter_is_applied(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, kernel: str
) -> None:
    monkeypatch.setattr(vmm, "run", lambda config, **options: 0)
    assert main(["--kernel", kernel]) == 0
    assert SECCOMP_WARNING in capsys.readouterr().err
    assert main(["--kernel", kernel, "--seccomp", "false"]) == 0
    assert SECCOMP_WARNING not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--pmem", "file=/x"], "--pmem: not supported by this VMM yet"),
        (
            ["--memory", "size=512M,shared=on", "--net", "vhost_user=on,socket=/x"],
            "--net: 'vhost_user' is not supported",
        ),
        (["--disk", "path=/dev/null,bw_size=1,bw_refill_time=1"], "--disk: 'bw_*/ops_*' is"),
        (["--cpus", "boot=1,max=2"], "--cpus: 'max' more vCPUs than boot="),
        (["--memory", "size=512M,reserve=on"], "--memory: 'reserve' is not supported"),
        (["--watchdog"], "--watchdog: not supported by this VMM yet"),
        (["--landlock"], "--landlock: not supported by this VMM yet"),
    ],
)
def test_what_this_vmm_does_not_build_is_refused_before_anything_is_built(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kernel: str,
    argv: list[str],
    error: str,
) -> None:
    def must_not_run(config: object, **options: object) -> int:
        raise AssertionError("a VM was built")

    monkeypatch.setattr(vmm, "run", must_not_run)
    assert _one_line_error(capsys, "--kernel", kernel, *argv).startswith(error)


class _Runs:
    """A stand-in for `vmm.run` that records each call and returns `status`."""

    def __init__(self, status: int = 0) -> None:
        self.status = status
        self.calls: list[tuple[object, dict[str, object]]] = []

    def __call__(self, config: object, **options: object) -> int:
        self.calls.append((config, options))
        return self.status


def test_the_plain_command_and_the_api_socket_take_the_one_run_path(
    monkeypatch: pytest.MonkeyPatch, kernel: str, tmp_path: Path
) -> None:
    runs = _Runs()
    monkeypatch.setattr(vmm, "run", runs)
    socket = str(tmp_path / "api.sock")
    events = f"path={tmp_path / 'events'}"
    assert main(["--kernel", kernel, "--seccomp", "false"]) == 0
    assert main(["--kernel", kernel, "--seccomp", "false", "--api-socket", socket,
                 "--event-monitor", events, "--no-shutdown"]) == 0  # fmt: skip
    (plain_config, plain), (api_config, served) = runs.calls
    assert plain_config == api_config
    assert plain == {"api": None, "event_monitor": None, "no_shutdown": False}
    api = served["api"]
    assert isinstance(api, vmm.ApiService)
    assert api.path == socket
    assert served["event_monitor"] == EventMonitorConfig(path=str(tmp_path / "events"))
    assert served["no_shutdown"] is True
    assert not Path(socket).exists()  # the service is closed when the VMM ends


def test_the_api_socket_alone_runs_the_vmm_without_a_vm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs = _Runs()
    monkeypatch.setattr(vmm, "run", runs)
    assert main(["--api-socket", f"path={tmp_path / 'api.sock'}", "--seccomp", "false"]) == 0
    ((config, options),) = runs.calls
    assert config is None
    assert isinstance(options["api"], vmm.ApiService)


def test_an_api_socket_that_cannot_listen_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs = _Runs()
    monkeypatch.setattr(vmm, "run", runs)
    message = _one_line_error(capsys, "--api-socket", f"path={tmp_path / 'no' / 'api.sock'}")
    assert message.startswith("--api-socket: ")
    assert runs.calls == []


@pytest.mark.parametrize("api", [False, True])
def test_a_vm_that_cannot_boot_is_the_same_one_line_error_with_or_without_the_api(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kernel: str,
    tmp_path: Path,
    api: bool,
) -> None:
    def cannot_boot(config: object, **options: object) -> int:
        raise FileNotFoundError(2, "No such file or directory", "/dev/net/tun")

    monkeypatch.setattr(vmm, "run", cannot_boot)
    argv = ["--kernel", kernel] + (["--api-socket", str(tmp_path / "api.sock")] if api else [])
    assert _one_line_error(capsys, *argv) == "/dev/net/tun: No such file or directory"
