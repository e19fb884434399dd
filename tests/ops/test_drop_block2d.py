"""DropBlock (torchvision.ops.drop_block2d semantics): the kernels against torchvision's algorithm
driven by the reference seed mask (its pad + max_pool block mask, its formula), exact in every
dtype; native ISAs, thread counts and the Numba mirror bit-identical; block sizes, shapes, layouts,
unbatched and empty inputs; the dropped fraction's statistics; the NumPy and torch front-ends
(autograd, gradcheck, opcheck, torch.compile, saved bytes, module) and every bad input."""

import importlib.util

import numpy as np
import pytest

import fastdrop
import reference
from conftest import (
    BFLOAT16, assert_compiled_matches_eager, import_or_skip, isas_and_thread_counts, random_array, saved_tensors,
)
from fastdrop._common.arrays import kernel_dtype

EPS = 1e-6
# (shape, block_size): square and non-square maps, block 1, a block as large as the map, seed rows
# longer than a stream tile, odd plane sizes (rows and planes across bytes of bits).
SHAPES = [
    ((2, 3, 9, 9), 3),
    ((1, 2, 7, 12), 5),
    ((3, 2, 6, 5), 1),
    ((2, 1, 7, 7), 7),
    ((1, 2, 11, 130), 7),
    ((2, 3, 13, 8), 5),
]


def gamma_of(p, shape, block_size):
    """torchvision's expression, verbatim."""
    _, _, H, W = shape
    return (p * H * W) / ((block_size ** 2) * ((H - block_size + 1) * (W - block_size + 1)))


def seed_keep(shape, block_size, p, seed, offset):
    """The reference keep mask of the seed grid (N, C, H - bs + 1, W - bs + 1): the contract's
    Bernoulli draw with probability gamma, one unit per grid position."""
    n, c, h, w = shape
    grid = (n, c, h - block_size + 1, w - block_size + 1)
    return reference.keep_mask(grid, gamma_of(p, shape, block_size), seed, offset)


def block_keep(seeds: np.ndarray, block_size: int) -> np.ndarray:
    """Element keep mask: the seed at (i, j) drops rows i .. i + bs - 1 and columns j .. j + bs - 1."""
    n, c, hs, ws = seeds.shape
    dropped = np.zeros((n, c, hs + block_size - 1, ws + block_size - 1), np.bool_)
    for a, b, i, j in zip(*np.nonzero(~seeds)):
        dropped[a, b, i:i + block_size, j:j + block_size] = True
    return ~dropped


def torchvision_block_keep(seeds: np.ndarray, block_size: int) -> np.ndarray:
    """The same from torchvision's code: pad the dropped seeds, max-pool, 1 - noise."""
    torch = import_or_skip("torch", "torch")
    F = torch.nn.functional
    noise = torch.from_numpy((~seeds).astype(np.float32))
    noise = F.pad(noise, [block_size // 2] * 4, value=0)
    noise = F.max_pool2d(noise, stride=(1, 1), kernel_size=(block_size, block_size), padding=block_size // 2)
    return (1 - noise).numpy().astype(np.bool_)


def scale_of(keep: np.ndarray, eps=EPS) -> float:
    kept = int(keep.sum())
    return 0.0 if kept == 0 else keep.size / (eps + kept)


def expected(x: np.ndarray, keep: np.ndarray, eps=EPS) -> np.ndarray:
    """keep ? x * scale : 0 in the compute type with the scale held in it, rounded once."""
    compute = reference.compute_type(x.dtype)
    values = np.where(keep, reference.to_compute(x) * compute(scale_of(keep, eps)), compute(0))
    return reference.from_compute(values, x.dtype)


def bits_of(a: np.ndarray) -> np.ndarray:
    return a.view(f"u{a.itemsize}")


def run_kernel(kernels, x, block_size, p, seed, offset, eps=EPS, shape=None):
    """(y, keep, scale) from a kernel module's drop_block2d_forward."""
    src = np.ascontiguousarray(x)
    raw = (lambda a: a.view(np.uint16)) if x.dtype == BFLOAT16 else (lambda a: a)
    y = np.empty_like(src)
    bits = np.empty((src.size + 7) // 8, np.uint8)
    scale = kernels.drop_block2d_forward(kernel_dtype(src.dtype, "x"), raw(src.reshape(-1)), raw(y.reshape(-1)),
                                         list(shape or src.shape), block_size, p, eps, seed, offset, bits)
    keep = np.unpackbits(bits, count=src.size, bitorder="little").astype(np.bool_).reshape(src.shape)
    return y, keep, scale


# ---- the kernels against torchvision's algorithm --------------------------------------------


@pytest.mark.parametrize("shape, block_size", SHAPES)
@pytest.mark.parametrize("p", [0.1, 0.5, 1.0])
def test_float32_is_torchvision_driven_by_the_reference_seeds(kernels, shape, block_size, p):
    x = random_array(np.random.default_rng(1), shape, np.float32)
    seeds = seed_keep(shape, block_size, p, 11, 3)
    keep = block_keep(seeds, block_size)
    np.testing.assert_array_equal(torchvision_block_keep(seeds, block_size), keep)
    y, got_keep, scale = run_kernel(kernels, x, block_size, p, 11, 3)
    np.testing.assert_array_equal(got_keep, keep)
    assert scale == scale_of(keep)
    # Equal values; the bits differ only where torchvision's product gives -0.0 (a dropped negative
    # element), for fastdrop writes dropout's +0.0 (docs/design.md, Randomness).
    np.testing.assert_array_equal(y, x * keep * np.float32(scale))
    np.testing.assert_array_equal(bits_of(y), bits_of(expected(x, keep)))
    # torchvision's own arithmetic (input * noise * (numel / (eps + sum))) in float32 rounds its
    # scale differently, by a few ulps at most.
    torch = import_or_skip("torch", "torch")
    noise = torch.from_numpy(keep.astype(np.float32))
    want = torch.from_numpy(x) * noise * (noise.numel() / (EPS + noise.sum()))
    np.testing.assert_allclose(y, want.numpy(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("shape, block_size", SHAPES[:3])
def test_every_dtype_is_exact(kernels, dtype, shape, block_size):
    x = random_array(np.random.default_rng(2), shape, dtype)
    keep = block_keep(seed_keep(shape, block_size, 0.4, 5, 9), block_size)
    y, got_keep, scale = run_kernel(kernels, x, block_size, 0.4, 5, 9)
    np.testing.assert_array_equal(got_keep, keep)
    np.testing.assert_array_equal(bits_of(y), bits_of(expected(x, keep)))


def test_native_isas_and_thread_counts_match(native_isa, threads_restored, dtype):
    # 48 planes of 33 x 47 (74448 elements): runs of 24 planes on several threads.
    x = random_array(np.random.default_rng(3), (6, 8, 33, 47), dtype)
    native_isa.set_cpu_isa("scalar")
    fastdrop.set_num_threads(1)
    want, want_keep, want_scale = run_kernel(native_isa, x, 9, 0.3, 77, 1)
    for isa, threads in isas_and_thread_counts(native_isa):
        got, keep, scale = run_kernel(native_isa, x, 9, 0.3, 77, 1)
        np.testing.assert_array_equal(bits_of(got), bits_of(want), err_msg=f"{isa}, {threads} threads")
        np.testing.assert_array_equal(keep, want_keep)
        assert scale == want_scale


def test_numba_is_bit_identical_to_native(dtype):
    import_or_skip("numba", "numba")
    native = import_or_skip("fastdrop._native", "native")
    numba_kernels = importlib.import_module("fastdrop._numba")
    x = random_array(np.random.default_rng(4), (3, 7, 29, 70), dtype)
    for block_size, p in ((1, 0.2), (5, 0.5), (29, 1.0)):
        a = run_kernel(native, x, block_size, p, 8, 2)
        b = run_kernel(numba_kernels, x, block_size, p, 8, 2)
        np.testing.assert_array_equal(bits_of(a[0]), bits_of(b[0]))
        np.testing.assert_array_equal(a[1], b[1])
        assert a[2] == b[2]


def test_everything_dropped_gives_zeros_not_nan(kernels):
    # Block 1 makes gamma = p: p = 1 drops every seed. The scale is 0 then, even with eps = 0.
    x = np.full((2, 3, 4, 5), 2.5, np.float32)
    for eps in (EPS, 0.0):
        y, keep, scale = run_kernel(kernels, x, 1, 1.0, 1, 0, eps=eps)
        assert scale == 0.0 and not keep.any()
        np.testing.assert_array_equal(bits_of(y), 0)
    # With larger blocks gamma < p, so p = 1 need not drop everything, as in torchvision.
    assert gamma_of(1.0, (1, 1, 9, 9), 3) < 1
    assert 0 < fastdrop.drop_block2d(np.ones((8, 8, 9, 9)), 1.0, 3, seed=2).mean()


def test_dropped_fraction_statistics():
    shape, block_size = (8, 32, 48, 40), 7
    n, c, h, w = shape
    hs, ws = h - block_size + 1, w - block_size + 1
    x = np.ones(shape, np.float32)
    for offset, p in enumerate((0.1, 0.5)):
        # The seeds' draw acts at a resolution of 2^-16: its drop probability is floor(gamma * 2^16) / 2^16.
        gamma = reference.threshold(gamma_of(p, shape, block_size)) / 2**16
        # An element is kept iff none of the seeds whose blocks cover it is dropped.
        rows = np.array([min(i, hs - 1) - max(0, i - block_size + 1) + 1 for i in range(h)])
        cols = np.array([min(j, ws - 1) - max(0, j - block_size + 1) + 1 for j in range(w)])
        kept_fraction = np.mean((1 - gamma) ** np.outer(rows, cols))
        y = fastdrop.drop_block2d(x, p, block_size, seed=31, offset=offset)
        got = np.mean(y != 0)
        # Efron-Stein: a seed changes the kept count by at most bs^2, and only when redrawing it
        # changes it (probability 2 gamma (1 - gamma)), so Var(kept) <= seeds gamma (1 - gamma) bs^4.
        sd = block_size ** 2 * np.sqrt(n * c * hs * ws * gamma * (1 - gamma)) / x.size
        assert abs(got - kept_fraction) <= 6 * sd, (p, got, kept_fraction, sd)
        # The scale makes the mean 1 (up to eps).
        assert abs(y.mean(dtype=np.float64) - 1) <= 1e-5


# ---- the NumPy front-end --------------------------------------------------------------------


def test_numpy_front_end_is_the_kernel():
    x = random_array(np.random.default_rng(5), (2, 3, 9, 11), np.float64)
    keep = block_keep(seed_keep(x.shape, 5, 0.3, 4, 6), 5)
    y, mask = fastdrop.drop_block2d(x, 0.3, 5, seed=4, offset=6, return_mask=True)
    np.testing.assert_array_equal(mask, keep)
    np.testing.assert_array_equal(y, expected(x, keep))
    _, bits = fastdrop.drop_block2d(x, 0.3, 5, seed=4, offset=6, return_mask=True, mask_format="bits")
    np.testing.assert_array_equal(bits, np.packbits(keep.reshape(-1), bitorder="little"))
    # Defaults: torchvision's eps, p = 0.1 and block_size = 7.
    np.testing.assert_array_equal(fastdrop.drop_block2d(x[..., :9], seed=1),
                                  fastdrop.drop_block2d(x[..., :9], 0.1, 7, eps=1e-6, seed=1))


def test_unbatched_input_gets_its_batched_mask():
    x = random_array(np.random.default_rng(6), (3, 10, 8), np.float32)
    np.testing.assert_array_equal(fastdrop.drop_block2d(x, 0.4, 3, seed=2), fastdrop.drop_block2d(x[None], 0.4, 3, seed=2)[0])


def test_layouts_get_the_mask_of_their_logical_shape():
    base = random_array(np.random.default_rng(7), (2, 12, 14, 5), np.float32)
    for view in (base.transpose(0, 3, 1, 2), base.transpose(0, 3, 1, 2)[:, :, ::2, 1::2], np.asfortranarray(base)):
        np.testing.assert_array_equal(fastdrop.drop_block2d(view, 0.3, 3, seed=9),
                                      fastdrop.drop_block2d(np.ascontiguousarray(view), 0.3, 3, seed=9))


def test_out_in_place_eval_p_zero_and_empty_batch():
    x = random_array(np.random.default_rng(8), (2, 2, 8, 8), np.float32)
    y = fastdrop.drop_block2d(x, 0.3, 3, seed=1)
    out = np.empty_like(x)
    assert fastdrop.drop_block2d(x, 0.3, 3, seed=1, out=out) is out
    np.testing.assert_array_equal(out, y)
    inplace = x.copy()
    fastdrop.drop_block2d(inplace, 0.3, 3, seed=1, out=inplace)
    np.testing.assert_array_equal(inplace, y)
    assert fastdrop.drop_block2d(x, 0.3, 3, training=False) is x
    assert fastdrop.drop_block2d(x, 0.0, 3) is x
    _, mask = fastdrop.drop_block2d(x, 0.3, 3, training=False, return_mask=True)
    assert mask.all() and mask.shape == x.shape
    empty = np.empty((0, 3, 8, 8), np.float32)
    assert fastdrop.drop_block2d(empty, 0.5, 3, seed=1).shape == empty.shape
    # Drawn seeds: reproducible with manual_seed, fresh on every call.
    fastdrop.manual_seed(3)
    a, b = fastdrop.drop_block2d(x, 0.5, 3), fastdrop.drop_block2d(x, 0.5, 3)
    fastdrop.manual_seed(3)
    np.testing.assert_array_equal(fastdrop.drop_block2d(x, 0.5, 3), a)
    assert not np.array_equal(a, b)


def test_numpy_backward_from_the_seed_or_the_mask():
    x = random_array(np.random.default_rng(9), (2, 3, 10, 9), np.float32)
    grad = random_array(np.random.default_rng(10), x.shape, np.float32)
    _, mask = fastdrop.drop_block2d(x, 0.4, 3, seed=6, offset=1, return_mask=True)
    want = expected(grad, mask)
    np.testing.assert_array_equal(fastdrop.drop_block2d_backward(grad, 0.4, 3, seed=6, offset=1), want)
    np.testing.assert_array_equal(fastdrop.drop_block2d_backward(grad, 0.4, 3, mask=mask), want)
    bits = np.packbits(mask.reshape(-1), bitorder="little")
    out = np.empty_like(grad)
    assert fastdrop.drop_block2d_backward(grad, mask=bits, out=out) is out
    np.testing.assert_array_equal(out, want)
    # Bits past the last element do not count.
    bits[-1] |= np.uint8((0xFF << grad.size % 8) & 0xFF)
    np.testing.assert_array_equal(fastdrop.drop_block2d_backward(grad, mask=bits), want)
    assert fastdrop.drop_block2d_backward(grad, 0.0, 3, mask=mask) is grad


# ---- errors ---------------------------------------------------------------------------------


def test_numpy_errors_name_the_argument_and_leave_inputs_untouched():
    x = np.ones((2, 3, 8, 8), np.float32)
    out = np.full_like(x, 7.0)
    cases = [
        (dict(p=1.5), ValueError, "p: dropout probability has to be between 0 and 1"),
        (dict(p=float("nan")), ValueError, "p: "),
        (dict(p="0.1"), TypeError, "p: expected a real number"),
        (dict(block_size=4), ValueError, r"block_size: expected an odd integer >= 1 \(block size should be odd\)"),
        (dict(block_size=0), ValueError, "block_size: expected an odd integer >= 1"),
        (dict(block_size=-3), ValueError, "block_size: expected an odd integer >= 1"),
        (dict(block_size=3.0), TypeError, "block_size: expected an odd integer >= 1, got float"),
        (dict(block_size=True), ValueError, "block_size: "),
        (dict(block_size=9), ValueError, r"block_size: 9 is larger than the input's 8x8 maps"),
        (dict(eps=-1e-6), ValueError, "eps: expected a finite number >= 0"),
        (dict(eps=float("inf")), ValueError, "eps: expected a finite number >= 0"),
        (dict(eps=float("nan")), ValueError, "eps: expected a finite number >= 0"),
        (dict(eps="1e-6"), TypeError, "eps: expected a finite number >= 0, got str"),
        (dict(out=np.empty((2, 3, 8, 9), np.float32)), ValueError, "out: expected shape"),
    ]
    for kwargs, error, message in cases:
        args = dict(p=0.3, block_size=3, seed=1, out=out)
        args.update(kwargs)
        with pytest.raises(error, match=message):
            fastdrop.drop_block2d(x, args.pop("p"), args.pop("block_size"), **args)
    np.testing.assert_array_equal(x, 1.0)
    np.testing.assert_array_equal(out, 7.0)
    for shape in ((8, 8), (1, 2, 3, 8, 8), ()):
        with pytest.raises(ValueError, match=r"x: expected a 4-D \(N, C, H, W\) or 3-D \(C, H, W\) input"):
            fastdrop.drop_block2d(np.ones(shape, np.float32), 0.3, 1, seed=1)
    with pytest.raises(TypeError, match="x: expected a floating-point array"):
        fastdrop.drop_block2d(np.ones((1, 1, 4, 4), np.int32), 0.3, 3, seed=1)
    with pytest.raises(ValueError, match="exactly one of seed= .* or mask="):
        fastdrop.drop_block2d_backward(x, 0.3, 3)
    with pytest.raises(ValueError, match="mask: packed bits for 384 elements must be 1-D of 48 bytes"):
        fastdrop.drop_block2d_backward(x, 0.3, 3, mask=np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"grad: expected a 4-D"):
        fastdrop.drop_block2d_backward(np.ones((4, 4)), 0.3, 3, seed=1)


def test_kernel_module_errors(kernels):
    x, y, bits = np.ones(64, np.float32), np.empty(64, np.float32), np.empty(8, np.uint8)
    with pytest.raises(ValueError, match="block_size: expected an odd size from 1 to the height 8 and width 8, got 4"):
        kernels.drop_block2d_forward("float32", x, y, [1, 1, 8, 8], 4, 0.1, EPS, 0, 0, bits)
    with pytest.raises(ValueError, match="eps: expected a finite number >= 0"):
        kernels.drop_block2d_forward("float32", x, y, [1, 1, 8, 8], 3, 0.1, -1.0, 0, 0, bits)
    with pytest.raises(ValueError, match="shape: must have as many elements as x"):
        kernels.drop_block2d_forward("float32", x, y, [1, 1, 8, 9], 3, 0.1, EPS, 0, 0, bits)
    with pytest.raises(ValueError, match="p must be in"):
        kernels.drop_block2d_forward("float32", x, y, [1, 1, 8, 8], 3, 1.5, EPS, 0, 0, bits)
    with pytest.raises(ValueError, match="mask_bits: expected 8 bytes"):
        kernels.drop_block2d_forward("float32", x, y, [1, 1, 8, 8], 3, 0.1, EPS, 0, 0, np.empty(9, np.uint8))
    with pytest.raises(ValueError, match="scale: expected a finite number"):
        kernels.apply_mask_bits_scale("float32", x, y, float("inf"), bits)


# ---- torch ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return import_or_skip("torch", "torch")


@pytest.fixture(scope="module")
def ft(torch):
    import fastdrop.torch as ft

    return ft


@pytest.mark.parametrize("memory_format", ["contiguous_format", "channels_last"])
def test_torch_matches_numpy_keeps_layout_and_differentiates(torch, ft, memory_format):
    x = torch.randn(3, 4, 10, 9, dtype=torch.float64).to(memory_format=getattr(torch, memory_format))
    x.requires_grad_()
    y = ft.functional.drop_block2d(x, 0.3, 3, seed=5, offset=2)
    assert y.is_contiguous(memory_format=getattr(torch, memory_format))
    want, mask = fastdrop.drop_block2d(x.detach().numpy(), 0.3, 3, seed=5, offset=2, return_mask=True)
    np.testing.assert_array_equal(y.detach().numpy(), want)
    np.testing.assert_array_equal(fastdrop.drop_block2d(x.detach(), 0.3, 3, seed=5, offset=2).numpy(), want)
    grad = torch.randn_like(x)
    y.backward(grad)
    # The backward is the forward's map on the gradient.
    np.testing.assert_array_equal(x.grad.numpy(), expected(grad.numpy(), mask))
    assert x.grad.is_contiguous(memory_format=getattr(torch, memory_format))


def test_torch_16_bit_and_unbatched(torch, ft):
    x = torch.randn(2, 3, 8, 7)
    for dtype in (torch.float16, torch.bfloat16):
        h = x.to(dtype)
        got = ft.functional.drop_block2d(h, 0.4, 3, seed=3)
        # One rounding of the float32 product, as float32's result rounded by .to(): equal bits.
        assert torch.equal(got, ft.functional.drop_block2d(h.float(), 0.4, 3, seed=3).to(dtype))
    assert torch.equal(ft.functional.drop_block2d(x[0], 0.4, 3, seed=3), ft.functional.drop_block2d(x[:1], 0.4, 3, seed=3)[0])


def test_torch_saves_the_bits_and_the_scale(torch, ft):
    x = torch.randn(16, 32, 8, 8, requires_grad=True)
    saved = saved_tensors(lambda t: ft.functional.drop_block2d(t, 0.2, 3), x)
    assert sorted(saved) == [((), 8), ((x.numel() // 8,), x.numel() // 8)]


def test_torch_gradcheck_and_opcheck(torch, ft):
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, requires_grad=True)

    def fn(t):
        return ft.functional.drop_block2d(t, 0.4, 3, seed=1, offset=2)

    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))
    xf = torch.randn(2, 3, 7, 6, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.drop_block2d.default, (xf, 0.3, 3, EPS, 5, 0, False))
    _, bits, scale = torch.ops.fastdrop.drop_block2d(xf, 0.3, 3, EPS, 5, 0, False)
    grad = torch.randn(2, 3, 7, 6, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.drop_block2d_backward.default, (grad, bits, scale))


def test_torch_compile_fullgraph(torch, ft):
    def fn(t):
        return ft.functional.drop_block2d(t, 0.3, 3, seed=9, offset=4) * 2

    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    assert_compiled_matches_eager(fn, x)
    model = torch.compile(torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3), ft.nn.DropBlock2d(0.3, 3)), fullgraph=True)
    torch.manual_seed(1)
    first, second = model(x), model(x)
    assert not torch.equal(first, second), "a fresh seed per call"


def test_torch_module_inplace_and_seeds(torch, ft):
    module = ft.nn.DropBlock2d(0.25, 5)
    assert repr(module) == "DropBlock2d(p=0.25, block_size=5, inplace=False)"
    x = torch.ones(4, 8, 12, 12)
    torch.manual_seed(0)
    a = module(x)
    torch.manual_seed(0)
    assert torch.equal(module(x), a)
    assert not torch.equal(module(x), a)
    module.eval()
    assert module(x) is x
    assert ft.nn.DropBlock2d(0.0, 3)(x) is x
    inplace = x.clone()
    assert ft.functional.drop_block2d(inplace, 0.3, 3, True, seed=2) is inplace
    assert torch.equal(inplace, ft.functional.drop_block2d(x, 0.3, 3, seed=2))
    assert ft.nn.DropBlock2d(0.3, 3, inplace=True).inplace
    empty = torch.empty(0, 3, 8, 8, requires_grad=True)
    ft.functional.drop_block2d(empty, 0.5, 3).sum().backward()
    assert empty.grad.shape == empty.shape
    assert "DropBlock2d" in ft.nn.__all__


def test_torch_errors(torch, ft):
    x = torch.ones(2, 3, 8, 8)
    for p in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="p: dropout probability has to be between 0 and 1"):
            ft.nn.DropBlock2d(p, 3)
        with pytest.raises(ValueError, match="p: "):
            ft.functional.drop_block2d(x, p, 3)
    with pytest.raises(ValueError, match="block_size: expected an odd integer >= 1"):
        ft.nn.DropBlock2d(0.1, 4)
    with pytest.raises(ValueError, match="eps: expected a finite number >= 0"):
        ft.nn.DropBlock2d(0.1, 3, eps=-1.0)
    with pytest.raises(ValueError, match="block_size: 9 is larger than the input's 8x8 maps"):
        ft.nn.DropBlock2d(0.1, 9)(x)
    with pytest.raises(ValueError, match=r"input: expected a 4-D \(N, C, H, W\) or 3-D \(C, H, W\) input"):
        ft.functional.drop_block2d(torch.ones(8, 8), 0.1, 3)
    with pytest.raises(TypeError, match="input: expected a floating-point tensor"):
        ft.functional.drop_block2d(torch.ones(1, 1, 4, 4, dtype=torch.int64), 0.1, 3)
    with pytest.raises(TypeError, match="input: expected a torch.Tensor"):
        ft.functional.drop_block2d(np.ones((1, 1, 4, 4)), 0.1, 3)
    with pytest.raises(TypeError, match="return_mask: supported for NumPy arrays"):
        fastdrop.drop_block2d(x, 0.1, 3, return_mask=True)
    assert torch.equal(x, torch.ones(2, 3, 8, 8))
