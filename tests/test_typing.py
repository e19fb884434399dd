"""fastdrop's types: python/fastdrop/__init__.pyi declares every public name of fastdrop, each
function with the parameters (names, kinds, defaults) of the function the registry builds, and a
type checker reads it (py.typed) and accepts ordinary use."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import fastdrop

PACKAGE = Path(fastdrop.__file__).parent
STUB = PACKAGE / "__init__.pyi"
KINDS = {"posonlyargs": inspect.Parameter.POSITIONAL_ONLY, "args": inspect.Parameter.POSITIONAL_OR_KEYWORD,
         "kwonlyargs": inspect.Parameter.KEYWORD_ONLY}


def stub_definitions() -> dict[str, ast.stmt]:
    """The stub's public top-level names and their statements (its private aliases left out)."""
    found: dict[str, ast.stmt] = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return {name: node for name, node in found.items() if not name.startswith("_") or name == "__version__"}


def stub_parameters(node: ast.FunctionDef) -> list[tuple[str, object, object]]:
    """(name, kind, default) of each parameter of a stub function, as inspect.Parameter has them."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params: list[tuple[str, object, object]] = []
    for arg, default in zip(positional, defaults):
        kind = KINDS["posonlyargs"] if arg in args.posonlyargs else KINDS["args"]
        params.append((arg.arg, kind, default))
    if args.vararg:
        params.append((args.vararg.arg, inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.empty))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
        params.append((arg.arg, KINDS["kwonlyargs"], inspect.Parameter.empty if kw_default is None else kw_default))
    if args.kwarg:
        params.append((args.kwarg.arg, inspect.Parameter.VAR_KEYWORD, inspect.Parameter.empty))
    # Defaults are literals in the stub (never "..."), so that they can be compared.
    return [(name, kind, ast.literal_eval(d) if isinstance(d, ast.expr) else d) for name, kind, d in params]


def runtime_parameters(fn) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_stub_declares_every_public_name_and_nothing_else():
    assert sorted(stub_definitions()) == sorted([*fastdrop.__all__, "__version__"])


def test_every_op_of_the_registry_and_its_backward_is_in_the_stub():
    names = set(stub_definitions())
    for spec in fastdrop._registry.OPS:
        assert spec.name in names
        assert (spec.backward is not None) == (f"{spec.name}_backward" in names), spec.name


def stub_names(kind: type) -> list[str]:
    return sorted(name for name, node in stub_definitions().items() if isinstance(node, kind))


@pytest.mark.parametrize("name", stub_names(ast.FunctionDef))
def test_stub_functions_have_the_runtime_signatures(name):
    assert stub_parameters(stub_definitions()[name]) == runtime_parameters(getattr(fastdrop, name))


@pytest.mark.parametrize("name", stub_names(ast.ClassDef))
def test_stub_classes_have_the_runtime_methods_and_fields(name):
    cls = getattr(fastdrop, name)
    node = stub_definitions()[name]
    methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
    public = {n for n, v in vars(cls).items() if callable(v) and (not n.startswith("_") or n == "__init__")}
    if hasattr(cls, "_fields"):  # a NamedTuple: its fields are the stub's annotated names
        fields = [f.target.id for f in node.body if isinstance(f, ast.AnnAssign) and isinstance(f.target, ast.Name)]
        assert tuple(fields) == cls._fields
        public = {n for n in public if not n.startswith("_")} - set(dir(tuple))
    assert sorted(methods) == sorted(public)
    for method, stub in methods.items():
        assert stub_parameters(stub) == runtime_parameters(getattr(cls, method)), method


def test_stub_variables_have_the_runtime_types():
    for name, node in stub_definitions().items():
        if isinstance(node, ast.AnnAssign):
            assert type(getattr(fastdrop, name)).__name__ == ast.unparse(node.annotation), name


def test_the_package_is_marked_typed_and_the_wheel_ships_the_stub():
    assert (PACKAGE / "py.typed").is_file() and STUB.is_file()
    tomllib = pytest.importorskip("tomllib")
    pyproject = PACKAGE.parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("fastdrop is installed, not a source tree")
    # scikit-build-core puts the whole package folder into the wheel, py.typed and the stub included.
    assert "python/fastdrop" in tomllib.loads(pyproject.read_text())["tool"]["scikit-build"]["wheel"]["packages"]


USER_CODE = '''
import numpy as np
import fastdrop

x = np.ones((4, 8), np.float32)
gen = fastdrop.Generator(3)
seed, offset = gen.draw()
y = fastdrop.dropout(x, 0.1, seed=seed, offset=offset, noise_shape=(None, 1))
y2, mask = fastdrop.dropout(x, 0.1, generator=gen, return_mask=True, mask_format="bits")
g = fastdrop.dropout_backward(x, 0.1, mask=mask)
z = fastdrop.dropout2d(x[None], 0.2, seed=1)
s = fastdrop.stochastic_depth(x, 0.2, "batch")
w = fastdrop.dropconnect_linear(x, np.ones((3, 8), np.float32), None, 0.5, seed=1, shard=fastdrop.Shard((3, 8), 0, 0))
dx, dW, db = fastdrop.dropconnect_linear_backward(w, x, np.ones((3, 8)), 0.5, seed=1, offset=0)
threads: int = fastdrop.get_num_threads()
version: str = fastdrop.__version__
fastdrop.manual_seed(0).initial_seed() + 1
fastdrop.dropout(x, p="high")
'''


def test_mypy_accepts_ordinary_use_and_catches_a_wrong_argument(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install fastdrop[test])")
    (tmp_path / "user.py").write_text(USER_CODE)
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent",
                             "--python-executable", sys.executable, "user.py"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    # Only the deliberate mistake on the last line: the stub is what mypy read, and it accepts the rest.
    assert len(errors) == 1, result.stdout + result.stderr
    assert errors[0].startswith(f"user.py:{USER_CODE.count(chr(10))}:") and '"p"' in errors[0], errors
