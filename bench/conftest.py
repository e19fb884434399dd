"""The pytest-benchmark suite is fastdrop.bench.cases' case list; these options pick part of it.

    pytest bench/                                  every case, timed by pytest-benchmark
    pytest bench/ --benchmark-disable              every case run once: a smoke check
    pytest bench/ --bench-sizes 64K --bench-backends native,torch
    pytest bench/ --bench-device cuda              fastdrop's CUDA dropout against torch's
"""

import pytest

from fastdrop.bench import cases as bench_cases
from fastdrop.bench import devices


def pytest_addoption(parser):
    group = parser.getgroup("fastdrop bench", "which fastdrop.bench cases to run")
    for name, default in (("ops", bench_cases.OPS), ("backends", bench_cases.BACKENDS),
                          ("directions", bench_cases.DIRECTIONS), ("modes", bench_cases.MODES)):
        group.addoption(f"--bench-{name}", default=",".join(default),
                        help=f"comma-separated (default {','.join(default)})")
    group.addoption("--bench-dtypes", default="", help="comma-separated (default: each case's, as fastdrop bench)")
    group.addoption("--bench-sizes", default="", help="comma-separated elements (default: each case's, as fastdrop bench)")
    group.addoption("--bench-device", default="cpu", choices=devices.DEVICES, help="cpu or cuda (default cpu)")


def _option_list(config, name):
    return tuple(item.strip() for item in config.getoption(f"--bench-{name}").split(",") if item.strip())


def selected_cases(config):
    return bench_cases.cases(
        ops=_option_list(config, "ops"),
        backends=_option_list(config, "backends"),
        device=config.getoption("--bench-device"),
        dtypes=_option_list(config, "dtypes") or None,
        sizes=tuple(map(bench_cases.parse_size, _option_list(config, "sizes"))) or None,
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
