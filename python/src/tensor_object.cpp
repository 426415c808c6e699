// The Python objects of tensors: made and destroyed without pybind11's instance registry.
//
// pybind11 keeps every instance in a global hash map (pointer -> Python object), so that
// returning the same C++ object twice gives the same Python object. For a small-tensor op
// that registry was a third of the cost of `a + b`: a lookup and an insert to make the
// result's object, a type-info lookup and an erase to destroy it. Tensors keep their
// Python object in TensorImpl::binding_object instead (as PyTorch's TensorImpl keeps its
// PyObject), so:
// - a tensor's Python object is found through its TensorImpl: one load, no table;
// - a new result's object is laid out as pybind11 lays out an unregistered instance with
//   a simple layout (value pointer, shared_ptr holder, flags), which pybind11's own
//   machinery (method calls, its deallocator) handles unchanged;
// - objects pybind11 makes itself (ember.Tensor(data), Python subclasses) still go through
//   its registry; a hook on the type's init_instance records them in binding_object too;
// - the deallocator clears binding_object, and destroys unregistered exact instances
//   directly, deferring to pybind11's deallocator for everything else.
// All of this runs with the GIL held.
#include <cstring>

#include "common.h"

namespace ember::py_bind {

namespace {

using Holder = std::shared_ptr<TensorImpl>;

bool g_fast = false;  // the layout checks in install_tensor_objects passed
void (*g_pybind_init_instance)(py::detail::instance*, const void*) = nullptr;

// pybind11's init_instance, then the new object is recorded as the tensor's object.
void init_instance_hook(py::detail::instance* inst, const void* holder) {
  g_pybind_init_instance(inst, holder);
  auto vh = inst->get_value_and_holder();
  if (!vh.holder_constructed()) return;
  const Holder& h = vh.holder<Holder>();
  if (h && !h->binding_object()) h->set_binding_object(inst);
}

}  // namespace

// Tensors start untracked by the collector (tracking every tensor costs ~30 ns per op on
// tiny tensors); a tensor is tracked once it can be part of a reference cycle through
// C++ (hooks_bind.cpp): when a hook is registered on it, when its grad_fn is read (to
// register node hooks), and when it is a Function's output. Python subclasses of Tensor
// are always tracked.
PyObject* tensor_alloc(PyTypeObject* type, Py_ssize_t) {
  PyObject* obj = _PyObject_GC_New(type);  // initialised header (type ref taken), not tracked
  if (!obj) return nullptr;
  std::memset(reinterpret_cast<char*>(obj) + sizeof(PyObject), 0, type->tp_basicsize - sizeof(PyObject));
  return obj;
}

void tensor_dealloc(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  PyTypeObject* type = Py_TYPE(self);
  auto vh = inst->get_value_and_holder();
  if (vh.holder_constructed()) {
    const Holder& h = vh.holder<Holder>();
    if (h && h->binding_object() == self) h->set_binding_object(nullptr);
  }
  if (inst->simple_layout) {
    if (type == tensor_type() && g_fast && !inst->simple_instance_registered && !inst->weakrefs &&
        !inst->has_patients) {
      PyObject_GC_UnTrack(self);
      {
        py::error_scope keep;   // the tensor's destructor may run Python (hooks)
        if (vh.holder_constructed()) {
          vh.holder<Holder>().~Holder();
          vh.set_holder_constructed(false);
        }
        vh.value_ptr() = nullptr;
      }
      type->tp_free(self);
      Py_DECREF(type);
      return;
    }
  }
  py::detail::pybind11_object_dealloc(self);
}

PyObject* tensor_object(const Tensor& t) {
  TensorImpl* impl = t.get();
  if (auto* o = static_cast<PyObject*>(impl->binding_object())) {
    Py_INCREF(o);
    return o;
  }
  if (!g_fast) {
    return py::detail::make_caster<Holder>::cast(t.impl(), py::return_value_policy::take_ownership, py::handle())
        .ptr();
  }
  PyTypeObject* type = tensor_type();
  PyObject* self = type->tp_alloc(type, 0);
  if (!self) throw py::error_already_set();
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  // pybind11's allocate_layout for a single type whose holder fits inline, without its
  // type lookup (checked once in install_tensor_objects).
  inst->simple_layout = true;
  inst->simple_holder_constructed = false;
  inst->simple_instance_registered = false;
  inst->owned = true;
  auto vh = inst->get_value_and_holder();
  vh.value_ptr() = impl;
  new (std::addressof(vh.holder<Holder>())) Holder(t.impl());
  vh.set_holder_constructed();
  impl->set_binding_object(self);
  return self;
}

void install_tensor_objects() {
  py::detail::type_info* ti = py::detail::get_type_info(typeid(TensorImpl));
  if (!ti || ti->init_instance == &init_instance_hook) return;
  g_pybind_init_instance = ti->init_instance;
  ti->init_instance = &init_instance_hook;
  // The hand-made layout above is pybind11's simple layout: one C++ type per Python type,
  // its holder stored inline.
  g_fast = ti->simple_type && ti->holder_size_in_ptrs <= py::detail::instance_simple_holder_in_ptrs() &&
           tensor_type()->tp_dealloc == &tensor_dealloc && tensor_type()->tp_alloc == &tensor_alloc;
}

}  // namespace ember::py_bind
