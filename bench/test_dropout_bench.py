"""Every case of fastdrop.bench.cases under pytest-benchmark (the same cases as `fastdrop bench`).

Cases doing the same work share a group, so pytest-benchmark's tables set fastdrop beside torch and
the copy roofline. Nothing here asserts on a time.
"""

from fastdrop.bench.cases import size_label


def test_case(case, benchmark):
    run = case.setup()
    benchmark.group = f"{case.dtype} {size_label(case.size)} {case.mode}"
    benchmark.extra_info["bytes"] = case.bytes_moved
    benchmark.extra_info["backend"] = case.backend
    benchmark(run)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gbps"] = case.bytes_moved / benchmark.stats.stats.median / 1e9
