"""Finite-difference checks of gradients: ``gradcheck`` and ``gradgradcheck``.

Both follow PyTorch's contract: ``fn`` takes tensors and returns a tensor or a tuple of
tensors; every input that requires grad is checked; the numerical Jacobian comes from
central differences, the analytical one from ``ember.autograd.grad`` row by row. They
return True, or raise ``GradcheckError`` naming the output, the input, the worst element
and both values (or return False when ``raise_exception=False``).
"""

from __future__ import annotations

import numpy as np

from .. import _C


class GradcheckError(RuntimeError):
    """A gradient did not match its finite-difference estimate."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    return tuple(o for o in _as_tuple(fn(*inputs)) if isinstance(o, _C.Tensor))


def _numerical_jacobians(fn, inputs, diff_idx, outputs, eps):
    """J[o][i] has shape (outputs[o].numel(), inputs[i].numel())."""
    jac = [[np.zeros((o.numel(), inputs[i].numel())) for i in diff_idx] for o in outputs]
    # fn runs in the caller's grad mode: gradgradcheck's fn itself calls autograd.grad.
    for col, i in enumerate(diff_idx):
        # Writes go straight into the input's memory through a numpy view of it.
        buf = np.asarray(memoryview(inputs[i].detach()))
        flat_index = list(np.ndindex(buf.shape)) if buf.ndim else [()]
        for k, idx in enumerate(flat_index):
            orig = buf[idx].item()
            buf[idx] = orig + eps
            plus = [np.array(o.detach(), dtype=np.float64).ravel() for o in _outputs(fn, inputs)]
            buf[idx] = orig - eps
            minus = [np.array(o.detach(), dtype=np.float64).ravel() for o in _outputs(fn, inputs)]
            buf[idx] = orig
            for o in range(len(outputs)):
                jac[o][col][:, k] = (plus[o] - minus[o]) / (2 * eps)
    return jac


def _analytical_jacobians(outputs, inputs, diff_idx, create_graph=False):
    from . import grad as autograd_grad

    jac = [[np.zeros((o.numel(), inputs[i].numel())) for i in diff_idx] for o in outputs]
    wrt = [inputs[i] for i in diff_idx]
    for o, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for r in range(out.numel()):
            seed = np.zeros(out.numel())
            seed[r] = 1.0
            g_out = _C._tensor(seed.reshape(tuple(out.shape)), out.dtype)
            grads = autograd_grad(out, wrt, g_out, retain_graph=True, allow_unused=True)
            for col, g in enumerate(grads):
                if g is not None:
                    jac[o][col][r, :] = np.array(g.detach(), dtype=np.float64).ravel()
    return jac


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored):
    """Checks the gradients of ``fn`` at ``inputs`` against central finite differences.

    Use float64 inputs: float32 central differences are too coarse for these tolerances."""
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, _C.Tensor) and t.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True.")
    for i in diff_idx:
        if inputs[i].dtype != _C.float64:
            import warnings

            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. This check "
                          "will likely fail if all the inputs are not of double precision floating point.",
                          stacklevel=2)
    outputs = _outputs(fn, inputs)
    if not outputs:
        return _fail("gradcheck: fn returned no tensor", raise_exception)
    analytical = _analytical_jacobians(outputs, inputs, diff_idx)
    numerical = _numerical_jacobians(fn, inputs, diff_idx, outputs, eps)
    for o in range(len(outputs)):
        for col, i in enumerate(diff_idx):
            a, n = analytical[o][col], numerical[o][col]
            bad = ~np.isclose(a, n, rtol=rtol, atol=atol, equal_nan=False)
            if bad.any():
                err = np.where(bad, np.abs(a - n), -1.0)
                r, c = np.unravel_index(np.argmax(err), err.shape)
                in_idx = [int(v) for v in np.unravel_index(c, tuple(inputs[i].shape))] if inputs[i].dim() else []
                out_idx = [int(v) for v in np.unravel_index(r, tuple(outputs[o].shape))] if outputs[o].dim() else []
                return _fail(
                    f"Jacobian mismatch for output {o} with respect to input {i},\n"
                    f"numerical:{n}\nanalytical:{a}\n"
                    f"worst element: d output[{o}]{out_idx} / d input[{i}]{in_idx}: "
                    f"numerical {n[r, c]:.10g}, analytical {a[r, c]:.10g} "
                    f"(|diff| {abs(a[r, c] - n[r, c]):.3g}, atol {atol}, rtol {rtol})",
                    raise_exception,
                )
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, **_ignored):
    """Checks second derivatives: gradcheck of the first-order gradients (computed with
    create_graph=True) with respect to the inputs and the output gradients."""
    from . import grad as autograd_grad

    inputs = _as_tuple(inputs)
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            _C._tensor(rng.standard_normal(tuple(o.shape)), o.dtype).requires_grad_(True) for o in outputs
        )
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, _C.Tensor) and t.requires_grad]

    def first_order(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _outputs(fn, ins) if o.requires_grad]
        wrt = [ins[i] for i in diff_idx]
        grads = autograd_grad(outs, wrt, [g for g, o in zip(gos, _outputs(fn, ins)) if o.requires_grad],
                              create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
