"""The Numba backend: the Numba mirrors' functions under the compiled module's names, so that the
front-ends call either backend the same way."""

from ._numba_bias_act import bias_act_dropout_backward, bias_act_dropout_forward
from ._numba_fused import bias_dropout_add_forward
from ._numba_gaussian import gaussian_backward, gaussian_forward
from ._numba_kernels import (
    alpha_backward, alpha_forward, apply_mask_bits, backward_bits, forward, get_num_threads, mask_bits,
    set_num_threads, stream_words,
)

__all__ = [
    "alpha_backward", "alpha_forward", "apply_mask_bits", "backward_bits", "bias_act_dropout_backward",
    "bias_act_dropout_forward", "bias_dropout_add_forward", "forward",
    "gaussian_backward", "gaussian_forward", "get_num_threads", "mask_bits", "set_num_threads", "stream_words",
]
