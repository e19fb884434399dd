"""Every case of fastdrop.bench.cases under pytest-benchmark (the same cases as `fastdrop bench`).

Cases doing the same work share a group, so pytest-benchmark's tables set fastdrop beside torch and
the copy roofline. Nothing here asserts on a time.
"""

from fastdrop.bench import devices
from fastdrop.bench.cases import size_label


def test_case(case, benchmark):
    workload = case.setup()
    benchmark.group = f"{case.device} {case.dtype} {size_label(case.size)} {case.mode}"
    benchmark.extra_info["bytes"] = workload.bytes_moved
    benchmark.extra_info["kept_bytes"] = workload.kept_bytes
    benchmark.extra_info["backend"] = case.backend
    # pytest-benchmark reads the clock around every call: a CUDA call is waited for each time.
    benchmark(devices.waited_for(workload.run, case.device))
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gbps"] = workload.bytes_moved / benchmark.stats.stats.median / 1e9
