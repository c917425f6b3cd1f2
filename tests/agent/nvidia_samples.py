"""nvidia-smi accounting output and a GPU-to-job map as the agent reads them, for three GPUs.

Lines with units, "[Not Supported]" and malformed lines are in them on purpose.
"""

from __future__ import annotations

MIB = 1048576
UUID_A = "GPU-0a1b2c3d-0000-1111-2222-333344445555"
UUID_B = "GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"
UUID_C = "GPU-12345678-1234-1234-1234-123456789abc"

ACCOUNTING = f"""\
gpu_serial, gpu_uuid, pid, time [ms], max_memory_usage [MiB], gpu_utilization [%], mem_utilization [%]
1320221000001, {UUID_A}, 4101, 3000000, 20480, 50, 31
1320221000002, {UUID_B}, 4102, 3600000, 30000, 100, 60
1320221000001, {UUID_A}, 5200, 600000, 1000, 90, 5
1320221000001, {UUID_A}, 4103, 1200 ms, 512 MiB, 7 %, [Not Supported]
1320221000001, {UUID_A}, notapid, 10, 10, 10, 10
1320221000001, {UUID_A}, 4104, 10, 10
1320221000001, {UUID_A}, 4105, 10, 10, 140, 10
"""

JOB_MAP = f"""\
# written by the Slurm prolog and by `map-running`
101 {UUID_A},{UUID_B}
101 {UUID_A} 4101,4103
101 {UUID_B} 4102
202 {UUID_A} 5200   # a later job on the same GPU
303 {UUID_C}
bad line with too many fields here
404 {UUID_C} 12x
"""
