"""The Numba backend: the Numba mirrors' functions under the compiled module's names, so that the
front-ends call either backend the same way."""

from .alpha_dropout import alpha_backward, alpha_backward_runs, alpha_forward, alpha_forward_runs
from .api_common import get_num_threads, set_num_threads
from .apply_mask_bits import apply_mask_bits
from .bias_act_dropout import (
    bias_act_dropout_backward,
    bias_act_dropout_backward_runs,
    bias_act_dropout_forward,
    bias_act_dropout_forward_runs,
)
from .bias_dropout_add import bias_dropout_add_forward, bias_dropout_add_forward_runs
from .drop_block2d import apply_mask_bits_scale, drop_block2d_forward
from .dropout import backward_bits, forward, forward_runs, mask_bits, mask_bits_runs
from .gaussian_dropout import gaussian_backward, gaussian_backward_runs, gaussian_forward, gaussian_forward_runs
from .philox_stream import stream_words

__all__ = [
    "alpha_backward", "alpha_backward_runs", "alpha_forward", "alpha_forward_runs", "apply_mask_bits",
    "apply_mask_bits_scale", "backward_bits", "bias_act_dropout_backward", "bias_act_dropout_backward_runs",
    "bias_act_dropout_forward", "bias_act_dropout_forward_runs",
    "bias_dropout_add_forward", "bias_dropout_add_forward_runs", "drop_block2d_forward", "forward", "forward_runs",
    "gaussian_backward", "gaussian_backward_runs", "gaussian_forward", "gaussian_forward_runs", "get_num_threads",
    "mask_bits", "mask_bits_runs", "set_num_threads", "stream_words",
]
