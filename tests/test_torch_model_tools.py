"""fastdrop.torch's model tools: convert() swaps torch's dropout modules for fastdrop's, and
mc_predict() averages Monte Carlo dropout passes. (Each module's own tests are in
tests/ops/test_<op>.py.)"""

import pytest

from conftest import import_or_skip

torch = import_or_skip("torch", "torch")

import fastdrop.torch as ft  # noqa: E402
from fastdrop.torch import nn as fnn  # noqa: E402


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
