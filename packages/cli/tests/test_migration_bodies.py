"""Restore and migration arguments become CH's bodies, with CH's keys, defaults and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli.migration_bodies import (
    BodyError,
    receive_migration_data,
    restore_config,
    send_migration_data,
)


def _tls_dir(tmp_path: Path, *names: str) -> str:
    for name in names:
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    return str(tmp_path)


def test_restore_descriptors_leave_the_json_in_chs_order() -> None:
    restore = restore_config(
        "source_url=/snap,net_fds=[net0@[3,4],net1@[5]],vfio_fds=[vfio0@6],iommufd_fd=7"
    )
    assert restore.fds == (3, 4, 5, 6, 7)
    assert restore.body["net_fds"] == [
        {"id": "net0", "num_fds": 2, "fds": None},
        {"id": "net1", "num_fds": 1, "fds": None},
    ]
    assert (restore.body["vfio_fds"], restore.body["iommufd_fd"]) == (
        [{"id": "vfio0", "fd": None}],
        None,
    )


def test_restore_without_descriptors_passes_none() -> None:
    assert restore_config("source_url=/snap").fds == ()


def test_restore_mode_is_any_case() -> None:
    body = restore_config("source_url=/s,memory_restore_mode=ONDEMAND").body
    assert body["memory_restore_mode"] == "OnDemand"


def test_receive_migration_descriptors_are_vfio_then_iommufd() -> None:
    receive = receive_migration_data(
        "receiver_url=tcp:127.0.0.1:1234,vfio_fds=[vfio0@5,vfio1@7],iommufd_fd=9"
    )
    assert receive.fds == (5, 7, 9)
    assert receive.body["vfio_fds"] == [{"id": "vfio0", "fd": None}, {"id": "vfio1", "fd": None}]


def test_a_unix_receiver_url_may_hold_an_equals_sign() -> None:
    url = receive_migration_data("receiver_url=unix:/tmp/ch=migrate.sock").body["receiver_url"]
    assert url == "unix:/tmp/ch=migrate.sock"


def test_send_migration_takes_every_key(tmp_path: Path) -> None:
    tls = _tls_dir(tmp_path, "ca-cert.pem", "client-cert.pem", "client-key.pem")
    body = send_migration_data(
        "destination_url=tcp:destination.example:8080,downtime_ms=150,timeout_s=900,"
        f"timeout_strategy=ignore,connections=4,tls_dir={tls}"
    )
    assert body == {
        "destination_url": "tcp:destination.example:8080",
        "local": False,
        "preserve_source": False,
        "downtime_ms": 150,
        "timeout_s": 900,
        "timeout_strategy": "Ignore",
        "connections": 4,
        "tls_dir": tls,
        "memory_mode": "Precopy",
    }


def test_a_local_migration_may_preserve_the_source() -> None:
    body = send_migration_data("destination_url=unix:/tmp/sock,local=on,preserve_source=on")
    assert (body["local"], body["preserve_source"]) == (True, True)


def test_receive_migration_takes_a_server_tls_dir(tmp_path: Path) -> None:
    tls = _tls_dir(tmp_path, "ca-cert.pem", "server-cert.pem", "server-key.pem")
    body = receive_migration_data(f"receiver_url=tcp:192.168.1.1:8080,tls_dir={tls}").body
    assert body["tls_dir"] == tls


def test_a_tls_dir_missing_a_file_is_refused_naming_it(tmp_path: Path) -> None:
    tls = _tls_dir(tmp_path, "ca-cert.pem", "server-cert.pem")
    with pytest.raises(BodyError, match=r"server-key\.pem"):
        receive_migration_data(f"receiver_url=tcp:192.168.1.1:8080,tls_dir={tls}")


@pytest.mark.parametrize(
    ("argument", "fragment"),
    [
        ("prefault=off", "source_url is required"),
        ("source_url=/s,memory_restore_mode=bogus", "memory_restore_mode"),
        ("source_url=/s,prefault=yes", "prefault"),
        ("source_url=/s,zone_updates=[@1]", "zone_updates"),
        ("source_url=/s,zone_updates=[@]", "zone_updates"),
        ("source_url=/s,zone_updates=[id1@]", "zone_updates"),
        ("source_url=/s,zone_updates=[id1 1]", "zone_updates"),
        ("source_url=/s,zone_updates=[[id1@1]]", "zone_updates"),
        ("source_url=/s,zone_updates=id1@1", "zone_updates"),
        ("source_url=/s,net_fds=[net0@x]", "net_fds"),
        ("source_url=/s,iommufd_fd=seven", "iommufd_fd"),
        ("source_url=/s,bogus=1", "unknown option 'bogus'"),
    ],
)
def test_restore_refuses_what_ch_refuses(argument: str, fragment: str) -> None:
    with pytest.raises(BodyError, match=f"^Error parsing restore syntax: .*{fragment}"):
        restore_config(argument)


@pytest.mark.parametrize(
    ("argument", "fragment"),
    [
        ("memory_mode=postcopy", "receiver_url is required"),
        ("receiver_url=file:///tmp/migration", "tcp:<host>:<port> or unix:<path>"),
        ("receiver_url=unix:", "tcp:<host>:<port> or unix:<path>"),
        ("receiver_url=tcp:192.168.1.1", "port is missing"),
        ("receiver_url=tcp:[2001:db8::1]", r"\[<ipv6 address>\]:<port>"),
        ("receiver_url=tcp::80", "must not be empty"),
        ("receiver_url=tcp:host:http", "invalid TCP port"),
        ("receiver_url=tcp:host:65536", "invalid TCP port"),
        ("receiver_url=unix:/tmp/sock,tls_dir=/tmp", "UNIX socket"),
        ("receiver_url=unix:/tmp/sock,memory_mode=bogus", "memory_mode"),
        ("receiver_url=unix:/tmp/sock,zone_updates=[]", "zone_updates"),
        ("receiver_url=unix:/tmp/sock,zone_updates=[zone1 3]", "zone_updates"),
        ("receiver_url=unix:/tmp/sock,zone_updates=[zone1@1, zone1@2]", "same memory zone"),
        ("receiver_url=unix:/tmp/sock,local=on", "unknown option 'local'"),
    ],
)
def test_receive_migration_refuses_what_ch_refuses(argument: str, fragment: str) -> None:
    heading = "Error parsing receive migration configuration"
    with pytest.raises(BodyError, match=f"^{heading}: .*{fragment}"):
        receive_migration_data(argument)


@pytest.mark.parametrize(
    ("argument", "fragment"),
    [
        ("local=on,downtime_ms=200", "destination_url is required"),
        ("destination_url=tcp:192.168.1.1:8080,downtime_ms=0", "downtime_ms must be non-zero"),
        ("destination_url=unix:/tmp/sock,timeout_s=0", "timeout_s must be non-zero"),
        ("destination_url=tcp:192.168.1.1:8080,connections=0", "connections must be non-zero"),
        ("destination_url=tcp:192.168.1.1:8080,connections=129", "must not exceed 128"),
        ("destination_url=unix:/tmp/sock,unknown_field=foo", "unknown option 'unknown_field'"),
        ("destination_url=unix:/tmp/sock,local=yes", "local"),
        ("destination_url=tcp:192.168.1.1:8080,timeout_strategy=invalid", "timeout_strategy"),
        ("destination_url=file:///tmp/migration", "tcp:<host>:<port> or unix:<path>"),
        ("destination_url=tcp:192.168.1.1", "port is missing"),
        ("destination_url=tcp:[2001:db8::1]", r"\[<ipv6 address>\]:<port>"),
        ("destination_url=unix:/tmp/sock,connections=2", "one connection"),
        ("destination_url=unix:/tmp/sock,tls_dir=/tmp", "UNIX socket"),
        ("destination_url=tcp:192.168.1.1:8080,local=on", "local=on needs a unix:"),
        ("destination_url=tcp:192.168.1.1:8080,preserve_source=on", "needs local=on"),
        ("destination_url=unix:/tmp/sock,preserve_source=on", "needs local=on"),
        ("destination_url=unix:/tmp/sock,local=on,memory_mode=postcopy", "exclude each other"),
        ("destination_url=tcp:1.2.3.4:80,memory_mode=postcopy,connections=4", "one connection"),
        ("destination_url=tcp:1.2.3.4:80,tls_dir=/nonexistent", "not a directory"),
    ],
)
def test_send_migration_refuses_what_ch_refuses(argument: str, fragment: str) -> None:
    heading = "Error parsing send migration configuration"
    with pytest.raises(BodyError, match=f"^{heading}: .*{fragment}"):
        send_migration_data(argument)
