// Hooks: user callbacks the engine runs during backward.
//
// Four kinds, with PyTorch's meaning and order. For every node the engine runs
//   1. tensor hooks (Tensor.register_hook) of the tensors whose gradient arrives here,
//      in registration order, each seeing the previous one's result; a leaf's tensor
//      hooks live on the leaf and run on its AccumulateGrad node, before accumulation;
//   2. retain_grad, so a retained .grad sees the hooked gradient;
//   3. node pre-hooks (grad_fn.register_prehook), on all the node's incoming gradients;
//   4. the node itself; an AccumulateGrad node then runs the leaf's post-accumulate
//      hooks (Tensor.register_post_accumulate_grad_hook) once .grad is updated;
//   5. node post-hooks (grad_fn.register_hook), on (grad_inputs, grad_outputs).
// A hook may return a replacement (an undefined tensor / nullopt: keep the value).
//
// Ownership and cost: hooks are held by shared_ptr in lists that exist only once a hook
// is registered (a null pointer on Node and on AutogradMeta otherwise), so graphs
// without hooks pay one pointer test per node in backward. The engine iterates over a
// copy of a list, so a hook may remove itself or register others while it runs.
//
// The core knows nothing about Python: python/src implements these interfaces for
// Python callables (taking the GIL to call them) and uses traverse() to let Python's
// garbage collector see the objects a hook keeps alive through C++ ownership.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace ember {

// Gradient lists, from the per-thread block cache (core/small_pool.h): the engine makes
// several per node.
using variable_list = std::vector<Tensor, pool::Allocator<Tensor>>;

// Called for each foreign object a hook owns; same shape as CPython's visitproc.
using HookVisitFn = int (*)(void* object, void* arg);

class Hook {
 public:
  virtual ~Hook() = default;
  virtual int traverse(HookVisitFn, void*) { return 0; }
};

// Tensor.register_hook: grad -> replacement grad (undefined: keep).
class TensorHook : public Hook {
 public:
  virtual Tensor operator()(const Tensor& grad) = 0;
};

// grad_fn.register_prehook: grad_outputs -> replacement (nullopt: keep).
class PreHook : public Hook {
 public:
  virtual std::optional<variable_list> operator()(const variable_list& grad_outputs) = 0;
};

// grad_fn.register_hook: (grad_inputs, grad_outputs) -> replacement grad_inputs.
class PostHook : public Hook {
 public:
  virtual std::optional<variable_list> operator()(const variable_list& grad_inputs,
                                                  const variable_list& grad_outputs) = 0;
};

// Tensor.register_post_accumulate_grad_hook: called with the leaf once .grad is updated.
class PostAccumulateGradHook : public Hook {
 public:
  virtual void operator()(const Tensor& leaf) = 0;
};

// A unique id per registered hook, so a handle can remove exactly its hook.
uint64_t next_hook_id();

template <typename H>
struct HookList {
  struct Entry {
    uint64_t id;
    uint32_t slot;  // output slot, for tensor hooks on a non-leaf
    std::shared_ptr<H> hook;
  };
  std::vector<Entry> entries;

  uint64_t add(std::shared_ptr<H> h, uint32_t slot = 0) {
    uint64_t id = next_hook_id();
    entries.push_back({id, slot, std::move(h)});
    return id;
  }
  bool remove(uint64_t id) {
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->id == id) {
        entries.erase(it);
        return true;
      }
    }
    return false;
  }
  bool empty() const { return entries.empty(); }
  int traverse(HookVisitFn visit, void* arg) const {
    for (const Entry& e : entries) {
      if (int r = e.hook->traverse(visit, arg)) return r;
    }
    return 0;
  }
};

// Hooks on a node: tensor hooks of its outputs (slot = output_nr), pre- and post-hooks.
struct NodeHooks {
  HookList<TensorHook> tensor_pre;
  HookList<PreHook> pre;
  HookList<PostHook> post;
  bool empty() const { return tensor_pre.empty() && pre.empty() && post.empty(); }
};

// Hooks on a leaf (kept on the tensor: its AccumulateGrad node is only cached weakly).
struct LeafHooks {
  HookList<TensorHook> tensor_pre;
  HookList<PostAccumulateGradHook> post_accumulate;
};

}  // namespace ember
