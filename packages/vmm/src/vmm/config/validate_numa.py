"""`--numa` against the rest of the config: the SRAT and SLIT must describe a real machine.

Node ids are 0 to N-1 (the SLIT is indexed by them), every zone and vCPU a
node names exists and belongs to that node only, and the distance matrix
(10 to itself, 20 unless given) is symmetric with distances the SLIT can hold.
"""

from __future__ import annotations

from vmm.config.errors import ValidationError
from vmm.config.model import VmConfig

DEFAULT_DISTANCE = 20
LOCAL_DISTANCE = 10


def check_numa(config: VmConfig) -> None:
    nodes = config.numa or ()
    if not nodes:
        return
    ids = [node.guest_numa_id for node in nodes]
    for index, node_id in enumerate(ids):
        if ids.index(node_id) != index:
            raise ValidationError(
                f"numa[{index}].guest_numa_id", f"NUMA node {node_id} is defined twice"
            )
    if sorted(ids) != list(range(len(ids))):
        raise ValidationError(
            "numa",
            f"guest_numa_id values must be 0 to {len(ids) - 1}, one node each: got {sorted(ids)}",
        )
    zones = {zone.id for zone in config.memory.zones or ()}
    cpu_owner: dict[int, int] = {}
    for index, node in enumerate(nodes):
        path = f"numa[{index}]"
        for zone in node.memory_zones or ():
            if zone not in zones:
                raise ValidationError(
                    f"{path}.memory_zones",
                    f"NUMA node {node.guest_numa_id}: unknown memory zone {zone!r}",
                )
        for cpu in node.cpus or ():
            if cpu >= config.cpus.max_vcpus:
                raise ValidationError(
                    f"{path}.cpus",
                    f"NUMA node {node.guest_numa_id}: vCPU {cpu} does not exist "
                    f"(max vCPUs is {config.cpus.max_vcpus})",
                )
            if cpu in cpu_owner:
                raise ValidationError(
                    f"{path}.cpus",
                    f"vCPU {cpu} belongs to multiple NUMA nodes: "
                    f"{cpu_owner[cpu]} and {node.guest_numa_id}",
                )
            cpu_owner[cpu] = node.guest_numa_id
    _check_distances(config)


def _check_distances(config: VmConfig) -> None:
    nodes = config.numa or ()
    count = len(nodes)
    matrix = [
        [LOCAL_DISTANCE if i == j else DEFAULT_DISTANCE for j in range(count)] for i in range(count)
    ]
    for index, node in enumerate(nodes):
        path = f"numa[{index}].distances"
        for entry in node.distances or ():
            source, destination, distance = node.guest_numa_id, entry.destination, entry.distance
            if destination >= count:
                raise ValidationError(
                    path, f"NUMA node {source}: distance to unknown node {destination}"
                )
            if destination == source and distance != LOCAL_DISTANCE:
                raise ValidationError(
                    path,
                    f"NUMA node {source}: the distance to itself is {LOCAL_DISTANCE}, "
                    f"not {distance}",
                )
            if destination != source and distance <= LOCAL_DISTANCE:
                raise ValidationError(
                    path,
                    f"NUMA node {source}: distance {distance} to node {destination} must be more "
                    f"than {LOCAL_DISTANCE} (the distance of a node to itself)",
                )
            matrix[source][destination] = distance
    for i in range(count):
        for j in range(i + 1, count):
            if matrix[i][j] != matrix[j][i]:
                raise ValidationError(
                    "numa",
                    f"NUMA distances are not symmetric: node {i} to {j} is {matrix[i][j]}, "
                    f"node {j} to {i} is {matrix[j][i]}",
                )
