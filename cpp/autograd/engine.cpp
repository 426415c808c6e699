#include "autograd/engine.h"

#include <cmath>
#include <queue>

#include "autograd/anomaly_mode.h"
#include "autograd/grad_mode.h"
#include "autograd/saved_variable.h"
#include "autograd/source_site.h"
#include "core/error.h"
#include "ops/ops.h"

namespace ember {

namespace {

// The virtual root: its "backward" hands out the root gradients along its edges.
class GraphRoot : public Node {
 public:
  explicit GraphRoot(variable_list grads) : grads_(std::move(grads)) {}
  std::string name() const override { return "GraphRoot"; }
  variable_list apply(variable_list&&) override { return grads_; }
  void add_root_edge(Edge e) { next_edges_.push_back(std::move(e)); }

 private:
  variable_list grads_;
};

struct NodeState {
  int dependencies = 0;
  variable_list buffer;
};

// Each reachable node's state for one backward pass, in an open-addressing table (linear
// probing, at most half full). The table's memory is kept per thread between backward
// passes (a nested backward, from a hook, makes its own): a small graph's backward then
// allocates nothing here, where a fresh 32-slot table was a 1.3 KiB malloc that made
// glibc consolidate its fast bins on every backward().
class NodeStates {
 public:
  NodeStates() {
    slots_.swap(cached());
    if (slots_.empty()) slots_.resize(kInitialSlots);
  }
  ~NodeStates() {
    for (Slot& s : slots_) {
      if (!s.key) continue;
      s.key = nullptr;
      s.state.dependencies = 0;
      s.state.buffer.clear();
    }
    if (slots_.size() <= kMaxCachedSlots && cached().empty()) slots_.swap(cached());
  }
  NodeStates(const NodeStates&) = delete;
  NodeStates& operator=(const NodeStates&) = delete;

  // The node's state, and whether it was just added.
  std::pair<NodeState*, bool> try_emplace(Node* n) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    Slot& s = slots_[probe(n)];
    if (s.key == n) return {&s.state, false};
    s.key = n;
    ++size_;
    return {&s.state, true};
  }
  // The state of a node already added.
  NodeState& at(Node* n) { return slots_[probe(n)].state; }

 private:
  static constexpr size_t kInitialSlots = 32;
  static constexpr size_t kMaxCachedSlots = 4096;
  struct Slot {
    Node* key = nullptr;
    NodeState state;
  };
  static std::vector<Slot>& cached() {
    thread_local std::vector<Slot> slots;
    return slots;
  }
  size_t probe(const Node* n) const {
    const size_t mask = slots_.size() - 1;
    size_t i = static_cast<size_t>((reinterpret_cast<uintptr_t>(n) * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    while (slots_[i].key != nullptr && slots_[i].key != n) i = (i + 1) & mask;
    return i;
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_ = std::vector<Slot>(old.size() * 2);
    for (Slot& s : old) {
      if (!s.key) continue;
      Slot& d = slots_[probe(s.key)];
      d.key = s.key;
      d.state = std::move(s.state);
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

struct ReadyOrder {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr() < b->sequence_nr(); }
};

// Sums a gradient into one slot of a node's input buffer.
void accumulate(variable_list& buffer, uint32_t slot, Tensor&& g) {
  if (buffer.size() <= slot) buffer.resize(slot + 1);
  if (!buffer[slot].defined()) {
    buffer[slot] = std::move(g);
  } else {
    buffer[slot] = add(buffer[slot], g);
  }
}

// Makes a node's output gradients match its forward inputs: sum broadcast dims away
// and convert to the input's dtype.
void validate_outputs(const Node& node, variable_list& outputs) {
  const auto& edges = node.next_edges();
  if (outputs.size() < edges.size()) outputs.resize(edges.size());
  const auto& meta = node.input_meta();
  for (size_t i = 0; i < edges.size(); ++i) {
    Tensor& g = outputs[i];
    if (!edges[i].valid() || !g.defined()) continue;
    const InputMeta& m = meta[i];
    if (g.shape() != m.shape) {
      try {
        g = sum_to(g, m.shape);
      } catch (const Error&) {
        throw Error(ErrorKind::Runtime, str("Function ", node.name(), " returned an invalid gradient at index ", i,
                                            " - got ", shape_str(g.shape()), " but expected shape compatible with ",
                                            shape_str(m.shape)));
      }
    }
    if (g.dtype() != m.dtype) g = to_dtype(g, m.dtype);
  }
}

// Tensor hooks, in registration order, each on the previous one's result; a hook sees
// only a defined gradient (as in PyTorch).
void call_tensor_hooks(const HookList<TensorHook>& list, variable_list& grads) {
  auto hooks = list.entries;  // a copy: a hook may remove itself or add others
  for (auto& e : hooks) {
    if (e.slot >= grads.size() || !grads[e.slot].defined()) continue;
    Tensor r = (*e.hook)(grads[e.slot]);
    if (r.defined()) grads[e.slot] = std::move(r);
  }
}

void call_pre_hooks(Node& n, variable_list& grads) {
  auto hooks = n.hooks()->pre.entries;
  for (auto& e : hooks) {
    std::optional<variable_list> r = (*e.hook)(grads);
    if (!r) continue;
    EMBER_CHECK(r->size() == grads.size(), "a pre-hook of ", n.name(), " returned ", r->size(),
                " gradients, expected ", grads.size());
    grads = std::move(*r);
  }
}

void call_post_hooks(Node& n, variable_list& outputs, const variable_list& inputs) {
  auto hooks = n.hooks()->post.entries;
  for (auto& e : hooks) {
    std::optional<variable_list> r = (*e.hook)(outputs, inputs);
    if (!r) continue;
    EMBER_CHECK(r->size() == outputs.size(), "a hook of ", n.name(), " returned ", r->size(),
                " gradients, expected ", outputs.size());
    outputs = std::move(*r);
  }
}

// Anomaly mode: the first NaN (or infinity) among a node's output gradients raises.
template <typename T>
void find_nonfinite(const Tensor& c, bool& nan, bool& inf) {
  const T* p = c.data<T>();
  for (int64_t i = 0, n = c.numel(); i < n; ++i) {
    nan |= std::isnan(p[i]);
    inf |= std::isinf(p[i]);
  }
}

void check_anomaly(const Node& n, const variable_list& outputs) {
  if (!AnomalyMode::should_check_nan()) return;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& g = outputs[i];
    if (!g.defined() || !is_floating(g.dtype())) continue;
    Tensor c = g.is_contiguous() ? g : contiguous_copy(g);
    bool nan = false, inf = false;
    if (c.dtype() == DType::Float64) find_nonfinite<double>(c, nan, inf);
    else if (c.dtype() == DType::Float32) find_nonfinite<float>(c, nan, inf);
    else find_nonfinite<float>(cast_copy(c, DType::Float32), nan, inf);
    if (nan || inf) {
      // PyTorch's sentence, then the forward line that made the node (PyTorch prints a traceback of it
      // as a separate warning).
      std::string at = describe_site(n.site());
      throw Error(ErrorKind::Runtime, str("Function '", n.name(), "' returned ", nan ? "nan" : "inf",
                                          " values in its ", i, "th output.",
                                          at.empty() ? std::string() : str(" ", n.name(), " was created at ", at,
                                                                           " in the forward pass.")));
    }
  }
}

void check_root_grad(const Tensor& root, const Tensor& grad, size_t i) {
  if (!grad.defined()) return;
  if (grad.shape() != root.shape()) {
    throw Error(ErrorKind::Runtime, str("Mismatch in shape: grad_output[", i, "] has a shape of ",
                                        shape_str(grad.shape()), " and output[", i, "] has a shape of ",
                                        shape_str(root.shape()), "."));
  }
  if (is_floating(root.dtype()) && !is_floating(grad.dtype())) {
    throw Error(ErrorKind::Runtime, str("For complex Tensors, both grad_output and output are required to have the "
                                        "same dtype. Mismatch in dtype: grad_output[", i, "] has a dtype of ",
                                        dtype_name(grad.dtype()), " and output[", i, "] has a dtype of ",
                                        dtype_name(root.dtype()), "."));
  }
}

// "`loss` (MeanBackward0, created at train.py:20)"
std::string describe_root(const Tensor& root, const Node* root_node) {
  std::string name = user_name_of(root);
  std::string d = name.empty() ? std::string("the output") : str("`", name, "`");
  if (root_node) {
    std::string at = describe_site(root_node->site());
    d += str(" (", root_node->name(), at.empty() ? std::string() : ", created at " + at, ")");
  }
  return d;
}

// Node `n` needs saved tensors that an earlier backward() freed. PyTorch's text first; then
// which backward() freed them and what to do, which depends on whether the graph being
// run is the one that was freed (backward() called twice: retain_graph=True) or a newer
// one that reaches into it (a tensor carried over from an earlier iteration: detach()).
[[noreturn]] void throw_freed_graph(const Node& n, const Tensor& root, const Node* root_node) {
  std::string msg = kBackwardTwiceMessage;
  const std::string earlier = str("an earlier backward()", at_site(n.released_site()));
  const std::string created = describe_site(n.site());
  const bool newer_graph = root_node && root_node->sequence_nr() >= n.released_before_seq();
  if (newer_graph) {
    msg += str(" Here backward() on ", describe_root(root, root_node), " reached ", n.name(),
               created.empty() ? std::string() : " (created at " + created + ")", ", whose saved tensors ",
               earlier, " freed: this graph was built on a tensor computed before that call. If a value is carried "
               "over from an earlier iteration (a hidden state, a running total, a cached result), detach() it "
               "where it is carried over (h = h.detach()), so each iteration's graph starts there; use "
               "retain_graph=True only if you mean to backpropagate through the earlier graph again.");
  } else {
    msg += str(" Here backward() was run again on ", describe_root(root, root_node), ", whose graph ", earlier,
               " had freed: ", n.name(), created.empty() ? std::string() : ", created at " + created + ",",
               " needs its saved tensors. Pass retain_graph=True to the first backward() to keep them, or "
               "recompute the forward pass before calling backward() again.");
  }
  throw Error(ErrorKind::Runtime, msg);
}

// Shared driver. When `capture` is non-empty, gradients arriving at those edges are
// stored in `captured` and AccumulateGrad nodes are not run.
void execute(const variable_list& roots, const variable_list& grad_roots, BackwardOptions opts,
             const std::vector<Edge>& capture, variable_list* captured) {
  EMBER_CHECK(roots.size() == grad_roots.size(), "backward: got ", roots.size(), " tensors and ", grad_roots.size(),
              " gradients");
  variable_list grads(roots.size());
  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    if (!r.requires_grad()) {
      throw Error(ErrorKind::Runtime, str("element ", i, " of tensors does not require grad and does not have a "
                                          "grad_fn (", tensor_desc(r), " is not part of a graph: create its inputs "
                                          "with requires_grad=True, and do not compute it under ember.no_grad())"));
    }
    check_root_grad(r, grad_roots[i], i);
    if (grad_roots[i].defined()) {
      grads[i] = grad_roots[i].dtype() == r.dtype() ? grad_roots[i] : cast_copy(grad_roots[i], r.dtype());
    } else {
      if (r.numel() != 1) {
        throw Error(ErrorKind::Runtime, str("grad can be implicitly created only for scalar outputs (backward() was "
                                            "called on ", tensor_desc(r), "; pass gradient=, or reduce it first, "
                                            "e.g. out.sum().backward())"));
      }
      grads[i] = ones(r.shape(), r.dtype());
    }
    root_edges.push_back(gradient_edge(r));
  }

  const SourceSite backward_site = capture_site();
  AutoGradMode mode(opts.create_graph);
  auto root = std::make_shared<GraphRoot>(std::move(grads));
  for (size_t i = 0; i < root_edges.size(); ++i) {
    root->add_root_edge(root_edges[i]);
    // The root's "inputs" are the roots themselves: their gradients keep their shape and dtype.
    root->mutable_input_meta().push_back({roots[i].shape(), roots[i].dtype()});
  }

  // Count dependencies with an explicit stack.
  NodeStates state;
  std::vector<Node*> stack{root.get()};
  state.try_emplace(root.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges()) {
      if (!e.valid()) continue;
      auto [st, inserted] = state.try_emplace(e.function.get());
      st->dependencies++;
      if (inserted) stack.push_back(e.function.get());
    }
  }

  const bool capturing = !capture.empty();

  std::priority_queue<Node*, std::vector<Node*>, ReadyOrder> ready;
  ready.push(root.get());
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    NodeState& st = state.at(n);
    variable_list inputs = std::move(st.buffer);
    inputs.resize(n->num_outputs());

    // Tensor hooks (registered on this node's outputs, or on the leaf it accumulates into).
    if (n->hooks() && !n->hooks()->tensor_pre.empty()) call_tensor_hooks(n->hooks()->tensor_pre, inputs);
    if (LeafHooks* lh = n->leaf_hooks(); lh && !lh->tensor_pre.empty()) call_tensor_hooks(lh->tensor_pre, inputs);

    // retain_grad(): copy the gradient flowing into each retained output.
    for (auto& [slot, weak] : n->retained) {
      auto impl = weak.lock();
      if (!impl || slot >= inputs.size() || !inputs[slot].defined()) continue;
      AutogradMeta& m = impl->ensure_autograd();
      if (!m.grad.defined()) m.grad = opts.create_graph ? inputs[slot] : contiguous_copy(inputs[slot]);
      else m.grad = opts.create_graph ? add(m.grad, inputs[slot]) : add(detach(m.grad), inputs[slot]);
    }
    if (capturing) {
      // Every requested input whose edge ends here (the same input may be asked for twice).
      for (size_t c = 0; c < capture.size(); ++c) {
        const uint32_t s = capture[c].input_nr;
        if (capture[c].function.get() != n || s >= inputs.size() || !inputs[s].defined()) continue;
        Tensor& dst = (*captured)[c];
        dst = dst.defined() ? add(dst, inputs[s]) : inputs[s];
      }
    }

    bool any = false;
    for (const Tensor& g : inputs) any |= g.defined();
    variable_list outputs;
    bool skip = (!any && n != root.get()) || (capturing && dynamic_cast<AccumulateGrad*>(n) != nullptr);
    if (!skip) {
      bool run = true;
      if (n->hooks() && !n->hooks()->pre.empty()) {
        call_pre_hooks(*n, inputs);
        run = n == root.get();  // a pre-hook may have replaced every gradient by None
        for (const Tensor& g : inputs) run |= g.defined();
      }
      const bool post = n->hooks() && !n->hooks()->post.empty();
      variable_list grad_outputs;
      if (post) grad_outputs = inputs;
      if (run) {
        try {
          outputs = n->apply(std::move(inputs));
        } catch (const FreedGraphError&) {
          throw_freed_graph(*n, roots[0], root_edges[0].function.get());
        }
      }
      validate_outputs(*n, outputs);
      if (post) call_post_hooks(*n, outputs, grad_outputs);
      if (!opts.keep_graph) {
        n->release_variables();
        n->mark_released(backward_site);
      }
      if (AnomalyMode::is_enabled()) check_anomaly(*n, outputs);
    }

    const auto& edges = n->next_edges();
    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& e = edges[i];
      if (!e.valid()) continue;
      NodeState& next = state.at(e.function.get());
      if (!skip && i < outputs.size() && outputs[i].defined()) accumulate(next.buffer, e.input_nr, std::move(outputs[i]));
      if (--next.dependencies == 0) ready.push(e.function.get());
    }
  }
}

}  // namespace

void run_backward(const variable_list& roots, const variable_list& grad_roots, BackwardOptions opts) {
  execute(roots, grad_roots, opts, {}, nullptr);
}

variable_list run_grad(const variable_list& roots, const variable_list& grad_roots, const variable_list& inputs,
                       BackwardOptions opts, bool allow_unused) {
  std::vector<Edge> capture;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    EMBER_CHECK(t.requires_grad(), "One of the differentiated Tensors does not require grad (input ", i, ": ",
                tensor_desc(t), ")");
    capture.push_back(gradient_edge(t));
  }
  variable_list captured(inputs.size());
  execute(roots, grad_roots, opts, capture, &captured);
  for (size_t i = 0; i < captured.size(); ++i) {
    if (!captured[i].defined() && !allow_unused) {
      throw Error(ErrorKind::Runtime, str("The differentiated Tensor at index ", i, " appears to not have been used "
                                          "in the graph. Set allow_unused=True if this is the desired behavior. (",
                                          tensor_desc(inputs[i]), ")"));
    }
  }
  return captured;
}

}  // namespace ember
