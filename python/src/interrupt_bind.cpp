// Ctrl-C inside long kernels: the core's interrupt handler (core/interrupt.h), in Python.
//
// The handler runs on the op's own thread between kernel blocks, usually with the GIL
// released: on the main thread only (the only one Python runs signal handlers on) it takes
// the GIL and calls PyErr_CheckSignals, which runs the Python-level handlers of pending
// signals. If one raised (KeyboardInterrupt from the default SIGINT handler), the error is
// kept aside and the op unwinds as interrupt::Interrupted; the exception translator
// (module.cpp) then raises the kept error in place of whatever C++ exception arrives.

#include "common.h"
#include "core/interrupt.h"

namespace ember::py_bind {
namespace {

unsigned long g_main_thread = 0;

// The error a signal handler raised during the current op (main thread only).
struct Stash {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
};
Stash g_stash;

bool check_signals() {
  if (PyThread_get_thread_ident() != g_main_thread) return false;
  if (!Py_IsInitialized() || _Py_IsFinalizing()) return false;
  PyGILState_STATE st = PyGILState_Ensure();
  bool stop = false;
  if (PyErr_CheckSignals() < 0) {
    stop = true;
    if (!g_stash.type) {
      PyErr_Fetch(&g_stash.type, &g_stash.value, &g_stash.tb);
    } else {
      PyErr_Clear();  // a second one before the first reached Python: the first wins
    }
  }
  PyGILState_Release(st);
  return stop;
}

}  // namespace

bool restore_interrupt() {
  if (PyThread_get_thread_ident() != g_main_thread || !g_stash.type) return false;
  PyErr_Restore(g_stash.type, g_stash.value, g_stash.tb);
  g_stash = Stash{};
  return true;
}

void init_interrupt(py::module_& m) {
  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  interrupt::set_handler(&check_signals);
  m.def(
      "_interrupt_stats",
      [] {
        interrupt::Stats s = interrupt::stats();
        return py::make_tuple(s.work, s.handler_calls);
      },
      "(work units polled, interrupt-handler calls) since _interrupt_reset_stats(): for tests.");
  m.def("_interrupt_reset_stats", &interrupt::reset_stats);
}

}  // namespace ember::py_bind
