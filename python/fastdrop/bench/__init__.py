"""fastdrop's benchmark suite: fastdrop's kernels against PyTorch and a plain copy.

``cases.py`` holds the one list of cases; ``runner.py`` times them for ``fastdrop bench``, and the
pytest-benchmark suite in the repository's bench/ is generated from the same list.
"""
