"""03_swish_mish: the notebook's own test cells, run in one kernel.

The source notebook runs top to bottom and every test cell passes; the released notebook's
test cells all fail on the stubs (it earns 0); for every graded class a catalogue of
typical wrong answers is rejected by the test cell that should catch it, with a message
that names the problem (which of x or beta has the wrong gradient, what was saved, which
parameter is missing), while several different correct formulations pass every test cell
of that class, hidden parts included. The checks themselves also pass on the reference.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest
from nbsession import (
    NotebookSession,
    assert_release_hides_the_answers,
    grade_cells,
    message_items,
    nbgrader_meta,
    release_outcomes,
    solution_sources,
)

ROOT = Path(__file__).resolve().parents[1]
NAME = "03_swish_mish"
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "release" / NAME / f"{NAME}.ipynb"

TESTS = {
    "swish_function": ["swish_function_values", "swish_function_grad_x",
                       "swish_function_grad_beta", "swish_function_saved",
                       "swish_function_dtype", "swish_function_edges"],
    "mish_function": ["mish_function_values", "mish_function_grad", "mish_function_saved",
                      "mish_function_dtype", "mish_function_edges"],
    "swish_module": ["swish_module_values", "swish_module_learnable"],
    "mish_module": ["mish_module_values"],
    "prelu_module": ["prelu_module_values", "prelu_module_parameter"],
}


# --- the notebook's structure (no kernel) --------------------------------------------------

def test_grade_ids_solutions_and_test_cells():
    nb = nbformat.read(SOURCE, as_version=4)
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    for unit, tests in TESTS.items():
        assert f"{unit}_solution" in ids
        assert set(tests) <= set(ids)
    assert list(grade_cells(nb)) == [t for tests in TESTS.values() for t in tests]
    assert {"mish_vs_swish_answer", "mish_vs_swish_mark_scheme"} <= set(ids)


def test_one_torch_import_and_stored_without_outputs():
    nb = nbformat.read(SOURCE, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert sum("import torch\n" in c.source for c in code) == 1
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_release_is_the_source_without_solutions_hidden_tests_or_mark_schemes():
    assert_release_hides_the_answers(SOURCE, RELEASE, (
        "ctx.save_for_backward(x, beta)", "torch.sigmoid(-beta * x)",
        "nn.Parameter(torch.tensor(float(init)))"))


# --- the checks against the reference (no notebook) ----------------------------------------

REFERENCE_CLASSES = {"swish_function": "SwishFunction", "mish_function": "MishFunction",
                     "swish_module": "Swish", "mish_module": "Mish", "prelu": "PReLU"}


def _reference_class(check_name: str):
    from course_utils import reference_torch

    return next(getattr(reference_torch, cls) for unit, cls in REFERENCE_CLASSES.items()
                if unit in check_name)


def test_every_check_passes_on_the_reference():
    from course_utils import checks
    from course_utils.checks import torch_functions, torch_modules

    names = list(torch_functions.__all__) + list(torch_modules.__all__)
    assert len(names) == 21
    for name in names:
        getattr(checks, name)(_reference_class(name))


def test_visible_checks_do_not_import_the_reference(monkeypatch):
    """Every visible check passes on the reference classes with the reference package
    unimportable (the import of a hidden check fails the same way, as a control)."""
    import course_utils
    from course_utils import checks
    from course_utils.checks import torch_functions, torch_modules

    names = list(torch_functions.__all__) + list(torch_modules.__all__)
    classes = {name: _reference_class(name) for name in names}
    monkeypatch.delattr(course_utils, "reference_torch")
    monkeypatch.setitem(sys.modules, "course_utils.reference_torch", None)
    for name in names:
        if name.startswith("check_"):
            getattr(checks, name)(classes[name])
    with pytest.raises(ImportError):
        checks.hidden_mish_function(classes["hidden_mish_function"])


def test_only_hidden_checks_name_the_reference():
    """Also on paths the reference classes never take (a failure's hint): every mention of
    the reference in the torch checks' code lies inside a function named hidden*."""
    for module in ("torch_calls", "torch_functions", "torch_modules"):
        tree = ast.parse((ROOT / "course_utils" / "checks" / f"{module}.py").read_text())
        inside = {}
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef):
                inside.update({id(node): fn.name for node in ast.walk(fn)
                               if not inside.get(id(node), "").startswith("hidden")})
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute, ast.alias, ast.ImportFrom)):
                text = ast.unparse(node) if not isinstance(node, ast.alias) else node.name
                if "reference" in text:
                    assert inside.get(id(node), "").startswith("hidden"), (module, text)


# --- the notebooks, executed ---------------------------------------------------------------

@pytest.fixture(scope="module")
def source_nb():
    with NotebookSession(SOURCE, timeout=600) as nb:
        nb.outcomes = nb.run_all()
        nb.solutions = solution_sources(nb.nb)
        yield nb


@pytest.mark.slow
def test_source_notebook_passes_every_test_cell(source_nb):
    failed = {gid: o.text for gid, o in source_nb.outcomes.items() if not o.passed}
    assert not failed
    assert len(source_nb.outcomes) == sum(len(t) for t in TESTS.values())


@pytest.mark.slow
def test_source_notebook_experiments_ran(source_nb):
    out = source_nb.run(
        "print(len(runs), len(depth_runs), sorted({r.depth for r in depth_runs}))\n"
        "print(min(r.final_accuracy for r in runs))\n"
        "print(saved['Mish: your MishFunction'], saved['Mish: naive x * tanh(softplus(x))'])")
    assert out.passed, out.text
    lines = out.text.splitlines()
    assert lines[0] == "18 45 [2, 5, 10, 15, 20]"
    assert float(lines[1]) > 0.9
    mine, naive = map(int, lines[2].split())
    assert mine == 400_000 and naive == 2 * mine


@pytest.mark.slow
def test_release_earns_zero():
    assert len(release_outcomes(RELEASE)) == sum(len(t) for t in TESTS.values())


def _variant(nb, unit: str, code: str, grade_ids) -> dict:
    """Define ``code`` in the kernel, run the test cells, then restore the solution."""
    try:
        defined = nb.run(code)
        assert defined.passed, defined.text
        return {gid: nb.run_test(gid) for gid in grade_ids}
    finally:
        restored = nb.run(nb.solutions[unit])
        assert restored.passed, restored.text


_SWISH = '''
class SwishFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, beta):
        ctx.save_for_backward(x, beta)
        return {forward}

    @staticmethod
    def backward(ctx, upstream):
        x, beta = ctx.saved_tensors
        s = torch.sigmoid(beta * x)
        slope = s * (1 - s)
        grad_x = {grad_x}
        grad_beta = {grad_beta}
        return grad_x, grad_beta
'''
_OK = {"forward": "x * torch.sigmoid(beta * x)",
       "grad_x": "upstream * (s + beta * x * slope)",
       "grad_beta": "(upstream * x * x * slope).sum()"}


def _swish(**changes) -> str:
    return _SWISH.format(**{**_OK, **changes})


_MISH = '''
class MishFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return {forward}

    @staticmethod
    def backward(ctx, upstream):
        (x,) = ctx.saved_tensors
        t = torch.tanh(F.softplus(x))
        return {grad}
'''
_MISH_OK = {"forward": "x * torch.tanh(F.softplus(x))",
            "grad": "upstream * (t + x * (1 - t * t) * torch.sigmoid(x))"}


def _mish(**changes) -> str:
    return _MISH.format(**{**_MISH_OK, **changes})


# (unit, test cell that must fail, what the message must say, the wrong definition)
WRONG = [
    # SwishFunction: forward
    ("swish_function", "swish_function_values", "SwishFunction: ",
     _swish(forward="x * torch.sigmoid(beta * x) * (1 + 1e-5)")),      # small relative error
    ("swish_function", "swish_function_values", "beta = 0.0",
     _swish(forward="x * torch.sigmoid(x)")),                           # beta ignored
    ("swish_function", "swish_function_values", "SwishFunction: ",
     _swish(forward="torch.relu(x) * torch.sigmoid(beta * x)")),        # wrong sign region
    # SwishFunction: gradient w.r.t. x
    ("swish_function", "swish_function_grad_x", "wrong sign",
     _swish(grad_x="-upstream * (s + beta * x * slope)")),
    ("swish_function", "swish_function_grad_x", "gradient w.r.t. x",
     _swish(grad_x="upstream * (s - beta * x * slope)")),              # sign slip inside
    ("swish_function", "swish_function_grad_x", "gradient w.r.t. x",
     _swish(grad_x="s + beta * x * slope")),                            # upstream ignored
    ("swish_function", "swish_function_grad_x", "gradient w.r.t. x",
     _swish(grad_x="upstream * (s + x * slope)")),                      # inner beta missed
    ("swish_function", "swish_function_grad_x", "gradient w.r.t. x",
     _swish(grad_x="upstream * (s + beta * x * slope) * (1 + 1e-5)")),
    # SwishFunction: gradient w.r.t. beta
    ("swish_function", "swish_function_grad_beta", "gradient w.r.t. beta: backward returned None",
     _swish(grad_beta="None")),                                         # beta gradient missing
    ("swish_function", "swish_function_grad_beta", "gradient w.r.t. beta",
     _swish(grad_beta="(upstream * x * slope).sum()")),                 # x, not x**2
    ("swish_function", "swish_function_grad_beta", "gradient w.r.t. beta",
     _swish(grad_beta="(upstream * x * x * slope).mean()")),            # mean, not sum
    ("swish_function", "swish_function_grad_beta", "gradient w.r.t. beta",
     _swish(grad_beta="(x * x * slope).sum()")),                        # upstream ignored
    ("swish_function", "swish_function_grad_beta", "gradient w.r.t. beta",
     _swish(grad_beta="(upstream * beta * x * slope).sum()")),          # d/dx confused with d/dbeta
    # SwishFunction: memory
    ("swish_function", "swish_function_saved", "saves 3 tensors",
     _swish().replace("ctx.save_for_backward(x, beta)",
                      "ctx.save_for_backward(x, beta, torch.sigmoid(beta * x))")),
    ("swish_function", "swish_function_saved", "ctx.s",
     _swish().replace("ctx.save_for_backward(x, beta)",
                      "ctx.save_for_backward(x, beta); ctx.s = torch.sigmoid(beta * x)")),
    # SwishFunction: dtype, shape, in place
    ("swish_function", "swish_function_dtype", "float64",
     _swish(forward="x.double() * torch.sigmoid(beta.double() * x.double())")),
    ("swish_function", "swish_function_dtype", "modified upstream in place",
     _swish(grad_x="upstream.mul_(s + beta * x * slope)",
            grad_beta="(x * x * slope).sum()")),
    ("swish_function", "swish_function_dtype", "shape",
     _swish(forward="(x * torch.sigmoid(beta * x)).reshape(-1)")),
    # SwishFunction: extremes
    ("swish_function", "swish_function_edges", "nan",
     _swish(grad_x="upstream * (torch.exp(beta * x) / (1 + torch.exp(beta * x))"
                   " + beta * x * slope)")),
    ("swish_function", "swish_function_edges", "SwishFunction",
     _swish(forward="x * torch.exp(beta * x) / (1 + torch.exp(beta * x))")),
    # MishFunction
    ("mish_function", "mish_function_values", "MishFunction: ",
     _mish(forward="x * F.softplus(x)")),                               # tanh forgotten
    ("mish_function", "mish_function_values", "MishFunction: ",
     _mish(forward="x * torch.tanh(F.softplus(x)) * (1 + 1e-5)")),
    ("mish_function", "mish_function_grad", "x = 0.0",                  # the note's form at 0
     _mish(grad="upstream * ((1 - t * t) * x * torch.sigmoid(x) + x * t / x)")),
    ("mish_function", "mish_function_grad", "wrong sign",
     _mish(grad="-upstream * (t + x * (1 - t * t) * torch.sigmoid(x))")),
    ("mish_function", "mish_function_grad", "gradient w.r.t. x",
     _mish(grad="upstream * (t + x * (1 - t) * torch.sigmoid(x))")),    # sech^2 as 1 - tanh
    ("mish_function", "mish_function_grad", "gradient w.r.t. x",
     _mish(grad="t + x * (1 - t * t) * torch.sigmoid(x)")),            # upstream ignored
    ("mish_function", "mish_function_saved", "saves 2 tensors",
     _mish().replace("ctx.save_for_backward(x)",
                     "ctx.save_for_backward(x, torch.tanh(F.softplus(x)))")),
    ("mish_function", "mish_function_saved", "ctx.y",
     _mish().replace("ctx.save_for_backward(x)",
                     "ctx.save_for_backward(x); ctx.y = x * torch.tanh(F.softplus(x))")),
    ("mish_function", "mish_function_dtype", "float64",
     _mish(forward="(x.double() * torch.tanh(F.softplus(x.double())))")),
    ("mish_function", "mish_function_edges", "nan",
     _mish(grad="upstream * (t + x * (1 - t * t) * torch.exp(x) / (1 + torch.exp(x)))")),
    ("mish_function", "mish_function_edges", "MishFunction",
     _mish(forward="x * torch.tanh(torch.log(1 + torch.exp(x)))")),   # naive softplus
    # Swish module
    ("swish_module", "swish_module_values", "beta",
     '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=False):
        super().__init__()
        self.register_buffer("beta", torch.tensor(float(beta)))

    def forward(self, x):
        return SwishFunction.apply(x, torch.tensor(1.0, dtype=x.dtype))   # beta ignored
'''),
    ("swish_module", "swish_module_values", "trainable parameters",
     '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=False):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta)))              # learnable ignored

    def forward(self, x):
        return SwishFunction.apply(x, self.beta.to(x.dtype))
'''),
    ("swish_module", "swish_module_learnable", "nn.Parameter",
     '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=False):
        super().__init__()
        self.beta = torch.tensor(float(beta), requires_grad=learnable)    # not a Parameter

    def forward(self, x):
        return SwishFunction.apply(x, self.beta.to(x.dtype))
'''),
    ("swish_module", "swish_module_learnable", "beta starts at 1.0, expected 1.5",
     '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=False):
        super().__init__()
        if learnable:
            self.beta = nn.Parameter(torch.tensor(1.0))                   # beta argument ignored
        else:
            self.register_buffer("beta", torch.tensor(float(beta)))

    def forward(self, x):
        return SwishFunction.apply(x, self.beta.to(x.dtype))
'''),
    ("swish_module", "swish_module_learnable", "gradient w.r.t. beta",
     '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=False):
        super().__init__()
        b = torch.tensor(float(beta))
        self.beta = nn.Parameter(b) if learnable else None
        self.register_buffer("fixed", b)

    def forward(self, x):
        return SwishFunction.apply(x, self.fixed.to(x.dtype))            # the Parameter unused
'''),
    # Mish module
    ("mish_module", "mish_module_values", "Mish()",
     '''
class Mish(nn.Module):
    def forward(self, x):
        return SwishFunction.apply(x, torch.tensor(1.0, dtype=x.dtype))  # Swish, not Mish
'''),
    ("mish_module", "mish_module_values", "float32",
     '''
class Mish(nn.Module):
    def forward(self, x):
        return MishFunction.apply(x.double())                              # dtype changed
'''),
    # PReLU module
    ("prelu_module", "prelu_module_parameter", "has 32 values, expected 1",
     '''
class PReLU(nn.Module):
    def __init__(self, init=0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.full((32,), float(init)))      # per channel

    def forward(self, x):
        return torch.where(x >= 0, x, self.weight[0] * x)
'''),
    ("prelu_module", "prelu_module_parameter", "starts at 0.0, expected 0.25",
     '''
class PReLU(nn.Module):
    def __init__(self, init=0.0):                                       # initial slope 0
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x):
        return torch.where(x >= 0, x, self.weight * x)
'''),
    ("prelu_module", "prelu_module_parameter", "share one slope",
     '''
_SLOPE = nn.Parameter(torch.tensor(0.25))

class PReLU(nn.Module):
    def __init__(self, init=0.25):
        super().__init__()
        self.weight = _SLOPE                                             # shared by all layers

    def forward(self, x):
        return torch.where(x >= 0, x, self.weight * x)
'''),
    ("prelu_module", "prelu_module_parameter", "gradient w.r.t. a",
     '''
class PReLU(nn.Module):
    def __init__(self, init=0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x):
        return torch.where(x >= 0, x, self.weight.detach() * x)           # slope never learns
'''),
    ("prelu_module", "prelu_module_values", "a = 0.1",
     '''
class PReLU(nn.Module):
    def __init__(self, init=0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x):
        return torch.where(x >= 0, x, 0.25 * x)                           # parameter ignored
'''),
    ("prelu_module", "prelu_module_values", "PReLU() with a = ",
     '''
class PReLU(nn.Module):
    def __init__(self, init=0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x):
        return torch.where(x >= 0, self.weight * x, x)                    # sides swapped
'''),
]


@pytest.mark.slow
@pytest.mark.parametrize("unit, grade_id, needle, code", WRONG,
                         ids=[f"{w[1]}-{i}" for i, w in enumerate(WRONG)])
def test_wrong_answer_is_rejected_with_a_message_naming_it(source_nb, unit, grade_id, needle,
                                                           code):
    outcome = _variant(source_nb, unit, code, [grade_id])[grade_id]
    assert not outcome.passed
    assert needle in outcome.text, outcome.text
    assert "Traceback" not in outcome.text and len(message_items(outcome.error)) <= 6, outcome.text


# Correct formulations, different from the notebook's solution: every test cell passes.
RIGHT = [
    ("swish_function", _swish()),                                       # s * (1 - s) directly
    ("swish_function", _swish(forward="x / (1 + torch.exp(-beta * x))",
                              grad_x="upstream * s * (1 + beta * x * (1 - s))",
                              grad_beta="torch.sum(upstream * x ** 2 * slope).reshape(())")),
    ("swish_function", '''
class SwishFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, beta):
        ctx.save_for_backward(x, beta)
        return x * torch.sigmoid(beta * x)

    @staticmethod
    def backward(ctx, upstream):
        x, beta = ctx.saved_tensors
        s, r = torch.sigmoid(beta * x), torch.sigmoid(-beta * x)
        grad_x = upstream * (s + beta * x * s * r) if ctx.needs_input_grad[0] else None
        grad_beta = (upstream * x * x * s * r).sum() if ctx.needs_input_grad[1] else None
        return grad_x, grad_beta
'''),
    ("mish_function", _mish()),
    ("mish_function", _mish(
        forward="x * torch.tanh(torch.log1p(torch.exp(x)))",
        grad="upstream * torch.where(x == 0, torch.full_like(x, 0.6), (1 - t * t) * x"
             " * torch.sigmoid(x) + x * torch.tanh(F.softplus(x)) / x)")),   # the note's form
    ("mish_function", _mish(
        grad="upstream * (t + x * torch.sigmoid(x) / torch.cosh(F.softplus(x)) ** 2)")),
    ("swish_module", '''
class Swish(nn.Module):
    def __init__(self, beta=1.0, learnable=False):
        super().__init__()
        self.learnable = learnable
        if learnable:
            self.beta = nn.Parameter(torch.full((), float(beta)))
        else:
            self.beta = float(beta)                                      # a plain number

    def forward(self, x):
        beta = self.beta if self.learnable else torch.tensor(self.beta)
        return SwishFunction.apply(x, beta.to(x.dtype))
'''),
    ("mish_module", '''
class Mish(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return MishFunction.apply(x)
'''),
    ("prelu_module", '''
class PReLU(nn.Module):
    def __init__(self, init=0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.full((1,), init))               # nn.PReLU's shape

    def forward(self, x):
        return F.prelu(x, self.weight.to(x.dtype))                       # PyTorch's kink
'''),
    ("prelu_module", '''
class PReLU(nn.Module):
    def __init__(self, init=0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(init))

    def forward(self, x):
        zero = torch.zeros_like(x)
        return torch.maximum(x, zero) + self.weight * torch.minimum(x, zero)
'''),
]


@pytest.mark.slow
@pytest.mark.parametrize("unit, code", RIGHT, ids=[f"{r[0]}-{i}" for i, r in enumerate(RIGHT)])
def test_correct_formulation_passes(source_nb, unit, code):
    outcomes = _variant(source_nb, unit, code, TESTS[unit])
    failed = {gid: o.text for gid, o in outcomes.items() if not o.passed}
    assert not failed
