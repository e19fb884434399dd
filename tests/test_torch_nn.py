"""fastdrop.torch.nn modules as drop-ins for torch's: constructor, repr, train/eval, layouts and
the behaviour PyTorch's own dropout module tests check (test/nn/test_dropout.py), plus convert()
and mc_predict()."""

import itertools

import pytest

from conftest import import_or_skip

torch = import_or_skip("torch", "torch")

import fastdrop.torch as ft  # noqa: E402
from fastdrop.torch import nn as fnn  # noqa: E402


def test_constructor_repr_and_type_match_torch():
    for args in [(), (0.3,), (0.3, True)]:
        ours, theirs = fnn.Dropout(*args), torch.nn.Dropout(*args)
        assert repr(ours) == repr(theirs)
        assert isinstance(ours, torch.nn.Dropout)
    assert repr(fnn.Dropout(0.2, mask_mode="recompute")) == "Dropout(p=0.2, inplace=False, mask_mode='recompute')"


@pytest.mark.parametrize("p", [-0.1, 1.1])
def test_invalid_p_raises_at_construction(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        fnn.Dropout(p)
    with pytest.raises(ValueError):
        ft.functional.dropout(torch.ones(1), p)


def test_invalid_mask_mode_raises_at_construction():
    with pytest.raises(ValueError, match="mask_mode: expected None or one of bits, recompute"):
        fnn.Dropout(0.5, mask_mode="byte")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_training_mean_grads_layout_and_eval(dtype, memory_format):
    p = 0.2
    data = torch.empty(1000, 2, 2, 3, dtype=dtype).fill_(1 - p)
    for inplace in (False, True):
        module = fnn.Dropout(p, inplace)
        x = data.clone(memory_format=memory_format).requires_grad_()
        out = module(x + 0 if inplace else x)
        assert out.is_contiguous(memory_format=memory_format)
        assert abs(out.float().mean().item() - (1 - p)) < 0.05
        out.backward(data)
        assert x.grad.is_contiguous(memory_format=memory_format)
        assert abs(x.grad.float().mean().item() - (1 - p)) < 0.05
        module.eval()
        assert module(data) is data


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_discontiguous_inputs_keep_values_at_tiny_p(memory_format):
    for p in (0.0, 1e-10):
        inp = torch.empty(2, 3, 3, 6, memory_format=memory_format)[..., ::2]
        inp.copy_(torch.ones(2, 3, 3, 3))
        out = fnn.Dropout(p)(inp)
        assert torch.equal(out, inp)
        if p:
            assert out.is_contiguous(memory_format=memory_format)


def test_permuted_and_sliced_inputs_keep_their_dimension_order():
    base = torch.ones(2, 3, 4, 5)
    for perm in itertools.permutations(range(4)):
        inverse = [perm.index(d) for d in range(4)]
        for shift in ((0, 0), (1, 0), (0, 1), (1, 1)):
            x = base.permute(perm).contiguous().permute(inverse)[shift[0]:, shift[1]:]
            for p in (1e-10, 0.5):
                out = fnn.Dropout(p)(x)
                assert out.permute(perm).is_contiguous()
                if p == 1e-10:
                    assert torch.equal(out, x)
                else:
                    assert not torch.equal(out, x)


def test_state_dict_loads_either_way():
    torch_model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.1))
    ours = torch.nn.Sequential(torch.nn.Linear(3, 3), fnn.Dropout(0.1))
    ours.load_state_dict(torch_model.state_dict())
    torch_model.load_state_dict(ours.state_dict())
    assert ours.state_dict().keys() == torch_model.state_dict().keys()


def test_convert_swaps_every_torch_dropout_and_keeps_settings():
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 4), torch.nn.Dropout(0.25, inplace=True),
        torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.ReLU()),
    )
    model[2].eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert ft.convert(model) is model
    assert type(model[1]) is fnn.Dropout and model[1].p == 0.25 and model[1].inplace
    assert type(model[2][0]) is fnn.Dropout and not model[2][0].training
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])
    single = ft.convert(torch.nn.Dropout(0.7))
    assert type(single) is fnn.Dropout and single.p == 0.7


def test_mc_predict_is_reproducible_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(),
                                fnn.Dropout(0.5), torch.nn.Linear(32, 2))
    model.train()
    x = torch.randn(10, 6)
    running_mean = model[1].running_mean.clone()
    rng_state = torch.get_rng_state()
    mean, var = ft.mc_predict(model, x, samples=50, seed=123)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert torch.equal(model[1].running_mean, running_mean)
    assert all(m.training for m in model.modules())
    mean2, var2 = ft.mc_predict(model, x, samples=50, seed=123)
    assert torch.equal(mean, mean2) and torch.equal(var, var2)
    assert mean.shape == (10, 2) and (var > 0).all()
    # The same numbers as averaging the passes by hand.
    model.eval()
    model[3].train()
    torch.manual_seed(123)
    with torch.no_grad():
        outs = torch.stack([model(x) for _ in range(50)])
    torch.testing.assert_close(mean, outs.mean(0))
    torch.testing.assert_close(var, outs.var(0, correction=0))


def test_mc_predict_rejects_zero_samples():
    with pytest.raises(ValueError, match="samples: expected at least 1"):
        ft.mc_predict(torch.nn.Linear(2, 2), torch.ones(1, 2), samples=0)
