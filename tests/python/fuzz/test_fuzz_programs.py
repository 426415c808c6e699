"""Differential fuzzing: random programs of 1-8 ops run on ember and on PyTorch, which must
agree on every value, dtype, shape, requires_grad, is_leaf and grad_fn name along the way, on
the leaves' gradients after backward, and on the type of any exception raised.

The default run is derandomized (the same programs every time) and runs
EMBER_FUZZ_EXAMPLES programs (2000 by default, ~1 minute); a long run:

    EMBER_FUZZ_EXAMPLES=100000 python -m pytest tests/python/fuzz

A failure shrinks to a minimal program and prints it as Python source.
"""

from __future__ import annotations

import os

import ember
import pytest
import torch  # noqa: F401  (the oracle; a required test dependency)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from programs import compare, draw_program

EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "2000"))
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # hypothesis' imports
RUN = {"programs": 0, "lines": 0, "errors": 0, "backward": 0}


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no 'explain': slow, noisy
    suppress_health_check=list(HealthCheck),
)
@given(st.data())
def test_random_programs_agree_with_torch(data):
    p = draw_program(data)
    RUN["programs"] += 1
    RUN["lines"] += len(p.lines)
    RUN["errors"] += p.failed
    RUN["backward"] += bool(p.leaves) and not p.failed
    diff = compare(p, ember)
    assert diff is None, f"{diff}\n\nprogram (run with L = ember and L = torch):\n{p.source('ember')}"


def test_fuzz_ran_enough_programs():
    """Runs after the fuzz test (file order): the default run covers >= 2000 programs."""
    if RUN["programs"] == 0:
        return  # the fuzz test was deselected
    print(f"\nfuzz: {RUN}")
    assert RUN["programs"] >= min(EXAMPLES, 2000), RUN
