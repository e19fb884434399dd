"""`fastdrop bench --plot PATH`: a PNG from a tiny run, and a clear error without matplotlib."""

import subprocess
import sys

from conftest import import_or_skip

from fastdrop.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_plot_writes_a_png_of_the_run(tmp_path):
    matplotlib_image = import_or_skip("matplotlib.image", "matplotlib")
    path = tmp_path / "bench.png"
    assert main(["bench", "--quick", "--sizes", "4K,8K", "--repeats", "1", "--dtypes", "float32",
                 "--ops", "dropout,alpha_dropout", "--backends", "native,torch,copy", "--directions", "forward",
                 "--plot", str(path)]) == 0
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    pixels = matplotlib_image.imread(path)
    height, width, _ = pixels.shape
    assert height > 200 and width > 400
    # Something was drawn: the image is not one flat colour.
    assert pixels.reshape(-1, pixels.shape[-1]).std(axis=0).max() > 0.05


NO_MATPLOTLIB = """
import sys
sys.modules["matplotlib"] = None      # import matplotlib now raises ImportError
from fastdrop.cli import main
sys.exit(main(["bench", "--quick", "--plot", sys.argv[1]]))
"""


def test_plot_without_matplotlib_fails_before_running(tmp_path):
    path = tmp_path / "bench.png"
    done = subprocess.run([sys.executable, "-c", NO_MATPLOTLIB, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "--plot needs matplotlib" in done.stderr
    assert done.stdout == "" and not path.exists()
