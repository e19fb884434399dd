"""The Numba backend: the Numba mirrors' functions under the compiled module's names, so that the
front-ends call either backend the same way. Each op's mirror, ``_numba/<stem>.py`` for a stem of
the registry, lists its entry points in ``__all__``; they are collected here, so adding an op needs
no line in this file."""

import importlib
import importlib.util

from .._registry import OPS
from .api_common import get_num_threads, set_num_threads
from .philox_stream import stream_words

__all__ = ["get_num_threads", "set_num_threads", "stream_words"]

# Ops built on another op's kernels (dropconnect on dropout's) have no mirror of their own.
for _stem in sorted({spec.stem for spec in OPS}):
    if importlib.util.find_spec(f"{__name__}.{_stem}") is None:
        continue
    _mirror = importlib.import_module(f"{__name__}.{_stem}")
    for _name in _mirror.__all__:
        globals()[_name] = getattr(_mirror, _name)
    __all__ += _mirror.__all__
