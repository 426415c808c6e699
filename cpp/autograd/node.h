// The backward graph: Node, Edge, AccumulateGrad.
//
// Every differentiable op run in grad mode on inputs that require grad creates one
// Node, stored as its output's grad_fn. A Node's next_edges point to the nodes that
// produce the gradients of its forward inputs, one edge per input, in input order:
// Edge{function, input_nr} where input_nr selects which of that node's forward
// outputs (and hence which slot of its input buffer) the gradient flows into. An
// input that needs no gradient has an invalid edge (function == nullptr), which
// Python shows as (None, 0) in next_functions.
//
// Leaves that require grad feed an AccumulateGrad node, created lazily and cached
// weakly on the leaf (the node owns the leaf, not the other way round).
//
// Ownership: the graph is kept alive by shared_ptrs from output tensors to their
// grad_fn and from nodes to their next nodes. Releasing a long chain would recurse
// once per node; release_node() flattens that into a loop.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "autograd/hooks.h"
#include "autograd/source_site.h"
#include "core/tensor.h"

namespace ember {

class SavedVariable;

struct Edge;
struct InputMeta;
using edge_list = std::vector<Edge, pool::Allocator<Edge>>;
using input_meta_list = std::vector<InputMeta, pool::Allocator<InputMeta>>;

struct Edge {
  std::shared_ptr<Node> function;
  uint32_t input_nr = 0;
  Edge() = default;
  Edge(std::shared_ptr<Node> f, uint32_t nr) : function(std::move(f)), input_nr(nr) {}
  bool valid() const { return function != nullptr; }
};

// Shape and dtype of one forward input, so the engine can reduce a broadcast
// gradient back to the input's shape (sum_to) and cast it to the input's dtype.
struct InputMeta {
  Shape shape;
  DType dtype = DType::Float32;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // PyTorch's node name, e.g. "MulBackward0".
  virtual std::string name() const = 0;

  // Gradients w.r.t. this node's forward outputs in, gradients w.r.t. its forward
  // inputs out (one per next edge; undefined where no gradient is needed). An
  // incoming gradient may be undefined, meaning zero.
  virtual variable_list apply(variable_list&& grads) = 0;

  // The tensors this node saved for its backward, under PyTorch's names ("self", "other",
  // "result", ...): grad_fn._saved_self reads them, and release_variables() frees them.
  struct SavedSlots {
    static constexpr int kMax = 3;
    std::pair<const char*, SavedVariable*> slot[kMax];
    int size = 0;
    SavedSlots() = default;
    SavedSlots(std::initializer_list<std::pair<const char*, SavedVariable*>> l) {
      for (const auto& s : l) slot[size++] = s;
    }
  };
  virtual SavedSlots saved_variables() { return {}; }

  // Drops saved tensors once the node has run, unless the graph is retained.
  virtual void release_variables();

  // Number of forward outputs (the size of this node's input buffer).
  virtual uint32_t num_outputs() const { return 1; }

  const edge_list& next_edges() const { return next_edges_; }
  edge_list& mutable_next_edges() { return next_edges_; }
  const input_meta_list& input_meta() const { return input_meta_; }
  input_meta_list& mutable_input_meta() { return input_meta_; }
  // Appends the edge and metadata for one forward input (in input order).
  void add_input(const Tensor& t);
  // Room for n inputs, so adding them allocates once.
  void reserve_inputs(size_t n) {
    next_edges_.reserve(n);
    input_meta_.reserve(n);
  }
  bool needs_input_grad(size_t i) const { return i < next_edges_.size() && next_edges_[i].valid(); }
  uint64_t sequence_nr() const { return sequence_nr_; }

  // Where the user's code created this node (autograd/source_site.h).
  SourceSite site() const { return site_; }
  // Called by the engine when a backward pass frees this node's saved tensors: records
  // which backward() call did it, and the sequence number current at that moment, so a
  // later "backward through the graph a second time" error can tell a repeated
  // backward() from a graph that reaches into one already freed.
  void mark_released(SourceSite backward_site);
  bool was_released() const { return released_before_seq_ != 0; }
  uint64_t released_before_seq() const { return released_before_seq_; }
  SourceSite released_site() const { return released_site_; }

  // Tensors that called retain_grad(), by output slot; filled when this node runs.
  std::vector<std::pair<uint32_t, std::weak_ptr<TensorImpl>>> retained;

  // Hooks registered on this node or its outputs (autograd/hooks.h); null until the first.
  NodeHooks* hooks() const { return hooks_.get(); }
  NodeHooks& ensure_hooks();
  // The hooks of the leaf this node accumulates into (AccumulateGrad only).
  virtual LeafHooks* leaf_hooks() const { return nullptr; }

 protected:
  edge_list next_edges_;
  input_meta_list input_meta_;
  std::unique_ptr<NodeHooks> hooks_;

 private:
  uint64_t sequence_nr_;
  uint64_t released_before_seq_ = 0;
  SourceSite site_;
  SourceSite released_site_;
};

// The sequence number the next node will get.
uint64_t peek_sequence_nr();

// Drops one reference to a node; if it was the last, destroys the node and everything
// only it kept alive with an explicit work list instead of recursion.
void release_node(std::shared_ptr<Node>&& node);

// Accumulates incoming gradients into a leaf's .grad.
//
// The node owns its leaf (as in PyTorch: a leaf only the graph refers to still gets its
// gradient), until it stores a .grad that has history (backward(create_graph=True)).
// That gradient's graph leads back to this node, so owning the leaf then would be a
// cycle leaf -> .grad -> ... -> AccumulateGrad -> leaf; from then on the node refers
// to the leaf weakly and the leaf lives as long as the user keeps it.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(Tensor variable);
  std::string name() const override { return "AccumulateGrad"; }
  variable_list apply(variable_list&& grads) override;
  // The leaf; undefined once it is gone (only possible after a create_graph backward).
  // Reads only weak_ (fixed at construction): strong_ may be reset by a concurrent apply().
  Tensor variable() const { return Tensor(weak_.lock()); }
  LeafHooks* leaf_hooks() const override;

 private:
  std::shared_ptr<TensorImpl> strong_;  // keeps the leaf alive; reset under leaf_mutex
  std::weak_ptr<TensorImpl> weak_;
};

// The edge that receives gradients for `t`: its grad_fn, or its AccumulateGrad if it is
// a leaf that requires grad; invalid otherwise.
Edge gradient_edge(const Tensor& t);

// The AccumulateGrad node of a leaf that requires grad (created on first use).
std::shared_ptr<Node> grad_accumulator(const Tensor& leaf);

// Guards one leaf's .grad and its cached AccumulateGrad, so backward passes running on
// several threads into a shared leaf (and forward passes creating its accumulator) do not
// lose gradients or race, as PyTorch's AccumulateGrad lock guarantees. Striped by tensor:
// unrelated leaves rarely share a mutex. Never held while calling hooks (which take the GIL).
std::mutex& leaf_mutex(const TensorImpl* leaf);

}  // namespace ember
