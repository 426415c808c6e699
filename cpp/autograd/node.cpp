#include "autograd/node.h"

#include <atomic>

#include "autograd/grad_mode.h"
#include "autograd/saved_variable.h"
#include "ops/ops.h"

namespace ember {

namespace {
std::atomic<uint64_t> next_sequence_nr{0};
std::atomic<uint64_t> next_hook_id_{0};
thread_local std::vector<std::shared_ptr<Node>>* pending_release = nullptr;
}  // namespace

Node::Node() : sequence_nr_(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)), site_(capture_site()) {}

void Node::release_variables() {
  SavedSlots saved = saved_variables();
  for (int i = 0; i < saved.size; ++i) saved.slot[i].second->reset();
}

uint64_t peek_sequence_nr() { return next_sequence_nr.load(std::memory_order_relaxed); }

void Node::mark_released(SourceSite backward_site) {
  if (was_released()) return;  // the first backward that freed it is the one to name
  released_before_seq_ = peek_sequence_nr();
  released_site_ = backward_site;
}

Node::~Node() {
  for (auto& e : next_edges_) release_node(std::move(e.function));
}

uint64_t next_hook_id() { return next_hook_id_.fetch_add(1, std::memory_order_relaxed); }

NodeHooks& Node::ensure_hooks() {
  if (!hooks_) hooks_ = std::make_unique<NodeHooks>();
  return *hooks_;
}

void Node::add_input(const Tensor& t) {
  next_edges_.push_back(gradient_edge(t));
  input_meta_.push_back({t.shape(), t.dtype()});
}

void release_node(std::shared_ptr<Node>&& node) {
  if (!node) return;
  if (node.use_count() > 1) {
    node.reset();
    return;
  }
  if (pending_release) {  // already tearing down: defer instead of recursing
    pending_release->push_back(std::move(node));
    return;
  }
  std::vector<std::shared_ptr<Node>> work;
  pending_release = &work;
  work.push_back(std::move(node));
  while (!work.empty()) {
    std::shared_ptr<Node> n = std::move(work.back());
    work.pop_back();
    n.reset();  // its destructor pushes the nodes it alone kept alive
  }
  pending_release = nullptr;
}

AccumulateGrad::AccumulateGrad(Tensor variable) : strong_(variable.impl()), weak_(variable.impl()) {
  input_meta_.push_back({variable.shape(), variable.dtype()});
}

variable_list AccumulateGrad::apply(variable_list&& grads) {
  Tensor& g = grads[0];
  if (!g.defined()) return {};
  Tensor leaf = variable();
  if (!leaf.defined()) return {};  // the leaf is gone: nobody can read its .grad
  AutogradMeta& meta = leaf->ensure_autograd();
  {
    std::lock_guard<std::mutex> lock(leaf_mutex(leaf.get()));  // concurrent backward passes into one leaf
    if (!meta.grad.defined()) {
      if (GradMode::is_enabled()) {
        // create_graph: own the buffer (g may also flow elsewhere) and keep g's history,
        // as PyTorch's clone_obey_contract does (so .grad's grad_fn is CopyBackwards).
        Tensor fresh = empty(leaf.shape(), leaf.dtype());
        meta.grad = copy_(fresh, g);
      } else if (g.impl().use_count() == 1 && !g->is_view() && g.is_contiguous() && !g.requires_grad()) {
        meta.grad = std::move(g);  // nobody else holds it: steal the buffer
      } else {
        meta.grad = contiguous_copy(g);
      }
    } else if (GradMode::is_enabled()) {
      meta.grad = add(meta.grad, g);
    } else {
      add_inplace_nograd(meta.grad, g);
    }
    if (meta.grad.grad_fn()) strong_.reset();  // .grad's history leads back here: see node.h
  }
  if (meta.hooks && !meta.hooks->post_accumulate.empty()) {
    auto hooks = meta.hooks->post_accumulate.entries;  // a copy: a hook may remove itself
    for (auto& e : hooks) (*e.hook)(leaf);
  }
  return {};
}

LeafHooks* AccumulateGrad::leaf_hooks() const {
  std::shared_ptr<TensorImpl> v = weak_.lock();
  if (!v) return nullptr;
  auto* m = v->autograd();
  return m ? m->hooks.get() : nullptr;
}

namespace {
template <int Tag>
std::mutex& stripe(const TensorImpl* leaf) {
  static std::mutex stripes[64];
  return stripes[(reinterpret_cast<uintptr_t>(leaf) >> 6) % 64];
}
}  // namespace

// Two stripe sets: accumulating may build graph nodes (create_graph), which may look up
// another leaf's accumulator; with one set that could wait on a mutex its own thread holds.
std::mutex& leaf_mutex(const TensorImpl* leaf) { return stripe<0>(leaf); }

std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  AutogradMeta& meta = leaf->ensure_autograd();
  std::lock_guard<std::mutex> lock(stripe<1>(leaf.get()));  // held for the cache only, never nested
  std::shared_ptr<Node> acc = meta.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(leaf);
    meta.grad_accumulator = acc;
  }
  return acc;
}

Edge gradient_edge(const Tensor& t) {
  auto* m = t->autograd();
  if (!m) return Edge();
  if (m->grad_fn) return Edge(m->grad_fn, m->output_nr);
  if (m->requires_grad) return Edge(grad_accumulator(t), 0);
  return Edge();
}

}  // namespace ember
