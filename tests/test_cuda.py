"""fastdrop's CUDA kernels. With a GPU: outputs and masks bit-identical to the CPU's for every dtype,
odd sizes and unaligned memory, both backward passes, torch autograd on CUDA tensors, the current
stream, and the device-seed entry point under CUDA-graph replay. Without one: the build reports
itself, and every CUDA request fails with a clear Python exception, never a crash."""

import types

import pytest

from conftest import REQUIRED, import_or_skip

native = import_or_skip("fastdrop._native", "native")

import fastdrop  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def _gpu_missing() -> str | None:
    if torch is None:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "torch.cuda.is_available() is False"
    if not native.cuda_built():
        return "fastdrop was built without CUDA"
    if native.cuda_device_count() == 0:
        return "fastdrop's CUDA runtime finds no device (driver older than the runtime it was built with?)"
    return None


GPU_MISSING = _gpu_missing()
HAS_DEVICE = native.cuda_device_count() > 0
# CI can require the GPU tests ("cuda" in FASTDROP_TEST_REQUIRE): they then fail instead of skipping.
needs_gpu = pytest.mark.skipif(GPU_MISSING is not None and "cuda" not in REQUIRED,
                               reason=f"needs a CUDA GPU: {GPU_MISSING}")
needs_no_device = pytest.mark.skipif(HAS_DEVICE, reason="a CUDA device is present")
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

# Addresses that are never dereferenced: the calls fail before any kernel runs.
FAKE_X, FAKE_Y, FAKE_BITS = 0x10000, 0x20000, 0x30000


# ---- without a GPU -----------------------------------------------------------------------------

def test_backends_report_the_cuda_build_and_devices():
    info = fastdrop.backends()
    assert info["cuda_built"] is bool(native.cuda_built())
    assert info["cuda_devices"] == native.cuda_device_count() >= 0
    if not native.cuda_built():
        assert info["cuda_devices"] == 0


@needs_no_device
def test_backends_report_no_device():
    assert fastdrop.backends()["cuda_devices"] == 0


@needs_no_device
@pytest.mark.parametrize("n", [0, 64])
def test_raw_calls_without_a_device_raise(n):
    x, y, bits = (0, 0, 0) if n == 0 else (FAKE_X, FAKE_Y, FAKE_BITS)
    calls = [
        lambda: native.cuda_forward_raw("float32", x, y, n, 0.5, 1, 2, bits, 0),
        lambda: native.cuda_forward_device_seed_raw("float16", x, y, n, 0.5, FAKE_BITS, bits, 0),
        lambda: native.cuda_backward_bits_raw("bfloat16", x, y, n, 0.5, FAKE_BITS, 0),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            call()


def test_raw_calls_check_arguments_before_cuda():
    # A build without CUDA reports that first; a CUDA build checks the arguments as the CPU does.
    built = native.cuda_built()
    bad_value = ValueError if built else RuntimeError
    with pytest.raises(TypeError, match="dtype: expected float16, bfloat16, float32 or float64, got int8"):
        native.cuda_forward_raw("int8", FAKE_X, FAKE_Y, 4, 0.5, 1, 2)
    with pytest.raises(RuntimeError, match="null pointer" if built else "CUDA is not available"):
        native.cuda_forward_raw("float32", 0, 0, 4, 0.5, 1, 2)
    with pytest.raises(RuntimeError, match="null pointer" if built else "CUDA is not available"):
        native.cuda_backward_bits_raw("float32", FAKE_X, FAKE_Y, 4, 0.5, 0)
    with pytest.raises(RuntimeError, match="null pointer" if built else "CUDA is not available"):
        native.cuda_forward_device_seed_raw("float32", FAKE_X, FAKE_Y, 4, 0.5, 0)
    for p in (-0.5, 1.5, float("nan")):
        with pytest.raises(bad_value):
            native.cuda_forward_raw("float32", FAKE_X, FAKE_Y, 4, p, 1, 2)
    with pytest.raises(bad_value):
        native.cuda_forward_raw("float64", FAKE_X, FAKE_Y, -1, 0.5, 1, 2)
    with pytest.raises(bad_value):  # float32 arrays must be 4-byte aligned
        native.cuda_forward_raw("float32", FAKE_X + 2, FAKE_Y, 4, 0.5, 1, 2)


@needs_torch
def test_cuda_tensors_get_a_clear_error_when_cuda_cannot_run():
    from fastdrop.torch import _bridge

    fake_cuda_tensor = types.SimpleNamespace(device=torch.device("cuda", 0), is_cpu=False)
    if GPU_MISSING is None:
        _bridge.check_device(fake_cuda_tensor, "input")
    else:
        with pytest.raises(RuntimeError, match="input: fastdrop has no kernels for device cuda:0: ") as err:
            _bridge.check_device(fake_cuda_tensor, "input")
        if fastdrop.backends()["active"] == "native":
            built = "CUDA built: True" if native.cuda_built() else "CUDA built: False"
            assert built in str(err.value)
            assert native.cuda_built() == ("no CUDA device found" in str(err.value))
    with pytest.raises(RuntimeError, match="weight: fastdrop has no kernels for device cuda:0: this operation has no"):
        _bridge.check_device(fake_cuda_tensor, "weight", cuda=False)
    _bridge.check_device(torch.ones(1), "input")


# ---- with a GPU --------------------------------------------------------------------------------

DTYPE_NAMES = ["float16", "bfloat16", "float32", "float64"]
SIZES = [0, 1, 3, 7, 8, 9, 15, 16, 17, 1023, 1025, 65536 * 3 + 5, (1 << 22) + 3]
PS = [0.0, 0.1, 0.5, 1.0 - 2.0**-20, 1.0]


def _torch_dtype(name):
    return getattr(torch, name)


def _raw_bits(t):
    """The tensor's bit patterns, so that comparisons see -0.0, infinities and rounding exactly."""
    return t.contiguous().view({2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])


def _assert_bits_equal(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert torch.equal(_raw_bits(got.cpu()), _raw_bits(want.cpu()))


def _inputs(n, dtype, seed=0):
    """Mixed signs and magnitudes (subnormals of the 16-bit types, overflow to infinity on scaling),
    -0.0 and infinities; no NaN, whose payload a GPU does not keep through arithmetic."""
    g = torch.Generator().manual_seed(seed + n)
    values = torch.randn(n, dtype=torch.float64, generator=g)
    scales = torch.tensor([1e-7, 1e-3, 1.0, 6e4, 1e300], dtype=torch.float64)
    values = values * scales[torch.randint(0, 5, (n,), generator=g)]
    if n > 4:
        values[:3] = torch.tensor([-0.0, float("inf"), -float("inf")], dtype=torch.float64)
    return values.to(dtype)


def _on_gpu(t, shift):
    """A CUDA copy of t that starts `shift` elements into its storage: shift 1 leaves 16-byte
    alignment and takes the kernels' element-by-element path."""
    storage = torch.empty(t.numel() + shift, dtype=t.dtype, device="cuda")
    out = storage[shift:]
    out.copy_(t)
    return out


def _empty_gpu(n, dtype, shift):
    return torch.empty(n + shift, dtype=dtype, device="cuda")[shift:]


def _cpu_forward(name, x, p, seed, offset):
    from fastdrop.torch import _bridge

    y = torch.empty_like(x)
    bits = torch.empty((x.numel() + 7) // 8, dtype=torch.uint8)
    _bridge.forward(name, x, y, p, seed, offset, bits)
    return y, bits


@needs_gpu
@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_forward_and_mask_match_cpu_bit_for_bit(name):
    from fastdrop.torch import _bridge

    dtype = _torch_dtype(name)
    for n in SIZES:
        x = _inputs(n, dtype)
        for p in PS:
            seed, offset = 0x0123456789ABCDEF ^ n, 3 * n + 1
            want_y, want_bits = _cpu_forward(name, x, p, seed, offset)
            for shift in (0, 1):
                xg = _on_gpu(x, shift)
                yg = _empty_gpu(n, dtype, shift)
                bits = torch.full(((n + 7) // 8 + 1,), 0xA5, dtype=torch.uint8, device="cuda")
                _bridge.forward(name, xg, yg, p, seed, offset, bits)
                _assert_bits_equal(yg, want_y)
                assert torch.equal(bits[:-1].cpu(), want_bits), (name, n, p, shift)
                assert bits[-1].item() == 0xA5, "nothing written past the mask"
                _bridge.forward(name, xg, xg, p, seed, offset)  # in place
                _assert_bits_equal(xg, want_y)


@needs_gpu
@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_backward_from_bits_and_from_seed_match_cpu(name):
    from fastdrop.torch import _bridge

    dtype = _torch_dtype(name)
    n, p, seed, offset = 100_003, 0.3, 77, 5
    x, grad = _inputs(n, dtype, seed=1), _inputs(n, dtype, seed=2)
    _, bits = _cpu_forward(name, x, p, seed, offset)
    want = torch.empty_like(grad)
    _bridge.backward_bits(name, grad, want, p, bits)
    for shift in (0, 1):
        dx = _empty_gpu(n, dtype, shift)
        _bridge.backward_bits(name, _on_gpu(grad, shift), dx, p, bits.cuda())
        _assert_bits_equal(dx, want)
        _bridge.forward(name, _on_gpu(grad, shift), dx, p, seed, offset)  # backward from (seed, offset)
        _assert_bits_equal(dx, want)


@needs_gpu
def test_nan_stays_nan_where_kept():
    from fastdrop.torch import _bridge

    x = torch.full((1000,), float("nan"))
    want, _ = _cpu_forward("float32", x, 0.5, 3, 4)
    y = torch.empty_like(x, device="cuda")
    _bridge.forward("float32", x.cuda(), y, 0.5, 3, 4)
    assert torch.equal(torch.isnan(y.cpu()), torch.isnan(want))
    assert torch.equal(y.cpu()[~torch.isnan(want)], want[~torch.isnan(want)])


@needs_gpu
@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_functional_dropout_autograd_on_cuda_matches_cpu(name):
    import fastdrop.torch.functional as FF

    dtype = _torch_dtype(name)
    x = (torch.randn(37, 29, dtype=torch.float64) * 3).to(dtype)
    grad = torch.randn(37, 29, dtype=torch.float64).to(dtype)
    for mask_mode in ("bits", "recompute", None):
        x_cpu, x_gpu = x.clone().requires_grad_(), x.cuda().requires_grad_()
        y_cpu = FF.dropout(x_cpu, 0.3, seed=12, offset=5, mask_mode=mask_mode)
        y_gpu = FF.dropout(x_gpu, 0.3, seed=12, offset=5, mask_mode=mask_mode)
        assert y_gpu.device == x_gpu.device
        _assert_bits_equal(y_gpu, y_cpu)
        y_cpu.backward(grad)
        y_gpu.backward(grad.cuda())
        _assert_bits_equal(x_gpu.grad, x_cpu.grad)


@needs_gpu
def test_cuda_layouts_seeds_streams_and_in_place():
    import fastdrop.torch.functional as FF

    x = torch.randn(64, 48)
    want = FF.dropout(x.t(), 0.4, seed=9)  # the mask of the logical (transposed) shape
    _assert_bits_equal(FF.dropout(x.cuda().t(), 0.4, seed=9), want)
    torch.manual_seed(123)
    first = FF.dropout(x.cuda(), 0.4)
    torch.manual_seed(123)
    _assert_bits_equal(FF.dropout(x.cuda(), 0.4), first)
    side = torch.cuda.Stream()
    xg = x.cuda()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        y = FF.dropout(xg, 0.4, seed=9, offset=2)
    side.synchronize()
    _assert_bits_equal(y, FF.dropout(x, 0.4, seed=9, offset=2))
    with torch.no_grad():
        same = FF.dropout(xg, 0.4, seed=9, offset=2, inplace=True)
    assert same is xg
    _assert_bits_equal(xg, FF.dropout(x, 0.4, seed=9, offset=2))


@needs_gpu
@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_device_seed_entry_point_and_graph_replay(name):
    from fastdrop.torch import _bridge

    dtype = _torch_dtype(name)
    n, p = 10_001, 0.25
    x = _inputs(n, dtype).cuda()
    y = torch.empty_like(x)
    bits = torch.empty((n + 7) // 8, dtype=torch.uint8, device="cuda")
    # The two u64 as the int64 bit patterns torch stores.
    seed_offset = torch.tensor([0x7EDCBA9876543210, 11], dtype=torch.int64, device="cuda")

    def run():
        stream = torch.cuda.current_stream().cuda_stream
        native.cuda_forward_device_seed_raw(name, x.data_ptr(), y.data_ptr(), n, p, seed_offset.data_ptr(),
                                            bits.data_ptr(), stream)

    run()
    want_y, want_bits = _cpu_forward(name, x.cpu(), p, 0x7EDCBA9876543210, 11)
    _assert_bits_equal(y, want_y)
    assert torch.equal(bits.cpu(), want_bits)

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # captures the launch with seed_offset's address, not its values
        run()
    for seed, offset in ((5, 0), (2**63 + 1, 2**64 - 1)):
        seed_offset.copy_(torch.tensor([_bridge.to_signed(seed), _bridge.to_signed(offset)]))
        graph.replay()
        want_y, want_bits = _cpu_forward(name, x.cpu(), p, seed, offset)
        _assert_bits_equal(y, want_y)
        assert torch.equal(bits.cpu(), want_bits)
