"""Programs the fuzzer shrank to when it found a difference from PyTorch, kept as regression
cases: each runs through the same comparison as the fuzzer's programs."""

from __future__ import annotations

import ember
import pytest

from programs import Program, compare

NAN_DATA = "np.array([np.nan, 1.5, -0.75, 0.0, np.inf, -np.inf])"
REGRESSIONS = {
    # sign(nan) is 0 in PyTorch
    "sign-nan": [f"v0 = L.tensor({NAN_DATA})", "v1 = v0.sign()"],
    # x ** 0.5 is sqrt(x) and x ** -0.5 is 1 / sqrt(x): nan at -inf, -0.0 and -inf at -0.0
    "pow-half": [f"v0 = L.tensor(np.array([-np.inf, -0.0, 4.0]))", "v1 = v0.pow(0.5)", "v2 = v0 ** -0.5"],
    # relu's backward lets the gradient through a nan result (threshold_backward)
    "relu-nan-grad": [f"v0 = L.tensor({NAN_DATA}, requires_grad=True)", "v1 = v0.relu()"],
    # maximum/minimum: zero only where the other operand wins, so nan passes to both
    "maximum-nan-grad": [
        f"v0 = L.tensor({NAN_DATA}, requires_grad=True)",
        "v1 = L.tensor(np.array([1.0, np.nan, -0.75, 2.0, 0.0, 1.0]), requires_grad=True)",
        "v2 = L.maximum(v0, v1)", "v3 = L.minimum(v0, v1) * v2",
    ],
    # max() over everything: a nan result shares the gradient among the nans
    "max-all-nan-grad": [
        "v0 = L.tensor(np.array([1.0, np.nan, np.nan, np.inf]), requires_grad=True)", "v1 = v0.max()",
    ],
    # add_/sub_ with alpha record the graph of a grad-requiring `other`
    "add_-alpha-grad": [
        "v0 = L.tensor(np.array([1.0, 2.0]))", "v1 = L.tensor(np.array([3.0, 4.0]), requires_grad=True)",
        "v2 = v0.add_(v1, alpha=2)", "v3 = v2.sub_(v1, alpha=3)",
    ],
    # copy_ into a bool or int64 tensor does not make it require grad
    "copy_-into-bool": [
        "v0 = L.tensor(np.array([1.0, 0.0]), requires_grad=True)", "v1 = L.zeros(2) > 0", "v2 = v1.copy_(v0)",
        "v3 = L.zeros(2).long()", "v4 = v3.copy_(v0)",
    ],
    # a slice that covers the dim but starts at -n is still a SliceBackward0
    "slice-negative-start": ["v0 = L.tensor(np.ones((2, 1)), requires_grad=True)", "v1 = v0[:, -2:]",
                             "v2 = v0[:, 0:5]"],
    # tensor ** tensor saves its result even when the exponent needs no grad: in-place on it fails backward
    "pow-tensor-result-saved": [
        "v0 = L.tensor(np.array(1.5), requires_grad=True)", "v1 = L.tensor(np.array(0.3))", "v2 = v0.pow(v1)",
        "v3 = v2.zero_()",
    ],
    # integer powers with a negative exponent are 0, except 1 ** e = 1 and (-1) ** e = +-1
    "int-pow-negative": [
        "v0 = L.tensor(np.array([-3, -2, -1, 0, 1, 2, 3]))", "v1 = L.tensor(np.array([-1, -2, -3, -1, -5, -2, 0]))",
        "v2 = 2 ** (v0 - 4)", "v3 = v0 ** v1", "v4 = v0.pow(v1 * 2)", "v5 = (-1) ** v1", "v6 = 0 ** v1",
        "v7 = 1 ** v1", "v8 = (v0 > 0) ** v1",
    ],
    # integer powers wrap modulo 2^64 as PyTorch's do
    "int-pow-wrap": ["v0 = L.tensor(np.array([2, 3, -3, 7]))", "v1 = v0 ** L.tensor(np.array([63, 64, 41, 100]))"],
    # ... and so is a negative stop on an empty dim (the normalized slice covers it)
    "slice-negative-stop-empty": ["v0 = L.tensor(np.ones((1, 0)), requires_grad=True)", "v1 = v0[0, :-1]",
                                  "v2 = v0[:, :-5]", "v3 = v0[:, 0:0]", "v4 = v0[0, :7]"],
    # writing in place into an expanded tensor is refused
    "inplace-on-expanded": ["v0 = L.tensor(np.ones((1, 1)))", "v1 = v0.expand((1, 2)).detach()", "v2 = v1.pow_(2)"],
    # a bool tensor may be clamped to an int64 result; sub with a Python bool is refused
    "clamp-bool": ["v0 = L.tensor(np.array([1.0, -1.0])) > 0", "v1 = v0.clamp(min=0)", "v2 = v0.clamp(-0.5, 0.5)"],
    "sub-bool-scalar": ["v0 = L.tensor(np.array([1.0, -1.0]))", "v1 = v0 - True"],
    "abs-bool": ["v0 = L.tensor(np.array([1.0, -1.0])) > 0", "v1 = v0.abs()"],
    "dot-bool": ["v0 = L.tensor(np.array([1.0, -1.0])) > 0", "v1 = v0.dot(v0)"],
    # & and | on floats: NotImplementedError (on int64 ember refuses too: test_bad_inputs)
    "and-float": ["v0 = L.tensor(np.array([2.0, 3.0]))", "v1 = v0 | v0"],
    "argmax-bool": ["v0 = L.tensor(np.array([1.0, -1.0])) > 0", "v1 = v0.argmax()"],
    "permute-no-args": ["v0 = L.tensor(np.array(1.0))", "v1 = v0.permute()"],
    "expand-no-args": ["v0 = L.tensor(np.array(1.0))", "v1 = v0.expand()"],
}


@pytest.mark.parametrize("name", list(REGRESSIONS))
def test_regression(name):
    lines = [(src.split(" = ", 1)[0], src) for src in REGRESSIONS[name]]
    leaves = [n for n, src in lines if "requires_grad=True" in src]
    p = Program(lines=lines, leaves=leaves)
    diff = compare(p, ember)
    assert diff is None, f"{diff}\n{p.source('ember')}"


def test_regressions_fail_on_the_old_behaviour():
    """The comparison is not vacuous: a program that differs is reported."""
    p = Program(lines=[("v0", "v0 = L.tensor(np.array([2.0])) if L.__name__ == 'ember' else L.tensor([3.0])")])
    assert compare(p, ember) is not None
