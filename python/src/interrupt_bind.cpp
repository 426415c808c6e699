// Ctrl-C inside long kernels: the core's interrupt handler (core/interrupt.h), in Python.
//
// The handler runs on the op's own thread between kernel blocks, usually with the GIL
// released: on the main thread only (the only one Python runs signal handlers on) it takes
// the GIL and calls PyErr_CheckSignals, which runs the Python-level handlers of pending
// signals. If one raised (KeyboardInterrupt from the default SIGINT handler), the error is
// kept aside and the op unwinds as interrupt::Interrupted; the exception translator
// (module.cpp) then raises the kept error in place of whatever C++ exception arrives.
// Only the main thread touches the state below (checked first), so it needs no lock.

#include <algorithm>
#include <chrono>

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

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Taking the GIL from a thread that runs Python waits up to its switch interval (5 ms);
// when it had to wait, the next checks back off (up to 200 ms apart), so a busy Python
// thread costs the main thread's kernels at most a few percent.
int64_t g_backoff_ns = 0, g_quiet_until_ns = 0;

bool check_signals() {
  if (PyThread_get_thread_ident() != g_main_thread) return false;
  if (!Py_IsInitialized() || _Py_IsFinalizing()) return false;
  const int64_t t0 = now_ns();
  if (t0 < g_quiet_until_ns) return false;
  PyGILState_STATE st = PyGILState_Ensure();
  const int64_t waited = now_ns() - t0;
  g_backoff_ns = waited > 1'000'000 ? std::min<int64_t>(std::max<int64_t>(2 * g_backoff_ns, 40'000'000), 200'000'000) : 0;
  g_quiet_until_ns = t0 + g_backoff_ns;
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
