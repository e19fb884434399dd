"""The pytest-benchmark suite is fastdrop.bench.cases' case list; these options pick part of it.

    pytest bench/                                  every case, timed by pytest-benchmark
    pytest bench/ --benchmark-disable              every case run once: a smoke check
    pytest bench/ --bench-sizes 64K --bench-backends native,torch
"""

import pytest

from fastdrop.bench import cases as bench_cases


def pytest_addoption(parser):
    group = parser.getgroup("fastdrop bench", "which fastdrop.bench cases to run")
    for name, default in (("ops", bench_cases.OPS), ("backends", bench_cases.BACKENDS),
                          ("dtypes", bench_cases.DTYPES), ("directions", bench_cases.DIRECTIONS),
                          ("modes", bench_cases.MODES)):
        group.addoption(f"--bench-{name}", default=",".join(default),
                        help=f"comma-separated (default {','.join(default)})")
    sizes = ",".join(map(bench_cases.size_label, bench_cases.SIZES))
    group.addoption("--bench-sizes", default=sizes, help=f"comma-separated elements (default {sizes})")


def _option_list(config, name):
    return tuple(item.strip() for item in config.getoption(f"--bench-{name}").split(",") if item.strip())


def selected_cases(config):
    return bench_cases.cases(
        ops=_option_list(config, "ops"),
        backends=_option_list(config, "backends"),
        dtypes=_option_list(config, "dtypes"),
        sizes=tuple(map(bench_cases.parse_size, _option_list(config, "sizes"))),
        directions=_option_list(config, "directions"),
        modes=_option_list(config, "modes"),
    )


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    params = []
    for case in selected_cases(metafunc.config):
        reason = case.skip_reason()
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("case", params)
