// The engine: runs the backward graph from one or more roots.
//
// It counts, for every node reachable from the roots, how many edges lead into it;
// then drains a ready queue ordered by sequence number (the node created last in the
// forward pass runs first), summing the gradients that flow into each node in its
// input buffer. A node runs once every edge into it has delivered (or been skipped),
// so each node sees the full sum of its gradients. Explicit stacks only: graphs of any
// depth run without recursion.
//
// After a node runs, its saved tensors are released unless keep_graph is set; a later
// backward through it then raises the backward-twice error.
//
// Hooks (autograd/hooks.h, which gives their order) run around each node; in anomaly
// mode (autograd/anomaly_mode.h) each node's output gradients are checked for NaN/inf.
#pragma once

#include "autograd/node.h"

namespace ember {

struct BackwardOptions {
  bool keep_graph = false;
  bool create_graph = false;
};

// Accumulates into the .grad of every leaf reachable from `roots`.
// grad_roots[i] may be undefined only for a scalar root (then it is 1).
void run_backward(const variable_list& roots, const variable_list& grad_roots, BackwardOptions opts);

// Returns d(roots)/d(inputs) without touching any .grad. An input not reachable from
// the roots gets an undefined tensor when allow_unused, an error otherwise.
variable_list run_grad(const variable_list& roots, const variable_list& grad_roots, const variable_list& inputs,
                       BackwardOptions opts, bool allow_unused);

}  // namespace ember
