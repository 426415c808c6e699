// The SiteRecorder (autograd/source_site.h) for Python: where in the user's code a node
// was created or a tensor written, and what the user calls a tensor.
//
// capture() runs for every node, so it only reads the innermost frame's code object and
// instruction offset. Code objects are interned once (a reference kept for good, so the
// pointer stays valid) with an id and whether they belong to ember's own Python package,
// whose frames are skipped: the site is the user's line that called into ember.
// Line numbers and file names are worked out only when a message is written.
#include <Python.h>
#include <frameobject.h>

// On CPython 3.11 the innermost frames are read straight from the interpreter's frame
// records: PyEval_GetFrame() would make a frame *object* for each new Python frame (a
// call into a small function that runs one op paid ~300 ns for it). The layout is
// CPython's own header, for exactly the version this module is built for; other
// versions take the public API below.
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#define EMBER_FAST_FRAMES 1
#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE
#endif

#include <string>
#include <unordered_map>
#include <vector>

#include "autograd/node.h"
#include "autograd/source_site.h"
#include "common.h"

namespace ember::py_bind {

namespace {

struct CodeEntry {
  PyCodeObject* code;
  bool internal;  // a file of ember's own Python package
};

// Touched only with the GIL held.
std::vector<CodeEntry> g_codes{{nullptr, false}};  // id 0 is "unknown"
std::unordered_map<PyCodeObject*, uint32_t> g_code_ids;
std::string g_internal_prefix;  // ".../ember/", set by ember/__init__.py
PyCodeObject* g_last_code = nullptr;
uint32_t g_last_id = 0;
constexpr size_t kMaxCodes = 1 << 16;  // past this, new code objects get no site

bool starts_with(const std::string& s, const std::string& p) { return !p.empty() && s.compare(0, p.size(), p) == 0; }

std::string code_filename(PyCodeObject* code) {
  const char* f = PyUnicode_AsUTF8(code->co_filename);
  if (!f) {
    PyErr_Clear();
    return "?";
  }
  return f;
}

// A frame of ember's own Python package, not the user's.
bool is_internal(PyCodeObject* code) { return starts_with(code_filename(code), g_internal_prefix); }

uint32_t intern(PyCodeObject* code) {
  if (code == g_last_code) return g_last_id;
  auto it = g_code_ids.find(code);
  uint32_t id;
  if (it != g_code_ids.end()) {
    id = it->second;
  } else {
    if (g_codes.size() >= kMaxCodes) return 0;
    Py_INCREF(code);
    id = static_cast<uint32_t>(g_codes.size());
    g_codes.push_back({code, is_internal(code)});
    g_code_ids.emplace(code, id);
  }
  g_last_code = code;
  g_last_id = id;
  return id;
}

bool g_recording = true;  // off only to measure what recording costs (bench/chapter_loop.py)

#ifdef EMBER_FAST_FRAMES
SourceSite capture() {
  if (!g_recording) return {};
  PyThreadState* ts = PyGILState_GetThisThreadState();
  if (!ts || ts != _PyThreadState_UncheckedGet()) return {};  // this thread does not hold the GIL
  _PyInterpreterFrame* f = ts->cframe ? ts->cframe->current_frame : nullptr;
  for (int depth = 0; f && depth < 32; f = f->previous) {
    if (_PyFrame_IsIncomplete(f)) continue;  // as PyEval_GetFrame: a frame not yet started
    ++depth;
    uint32_t id = intern(f->f_code);
    if (id == 0) break;
    if (!g_codes[id].internal)
      return SourceSite{id, _PyInterpreterFrame_LASTI(f) * static_cast<int>(sizeof(_Py_CODEUNIT))};
  }
  return {};
}
#else
SourceSite capture() {
  if (!g_recording || !PyGILState_Check()) return {};
  PyFrameObject* frame = PyEval_GetFrame();  // borrowed
  PyFrameObject* owned = nullptr;            // a reference from PyFrame_GetBack
  SourceSite site;
  for (int depth = 0; frame && depth < 32; ++depth) {
    PyCodeObject* code = PyFrame_GetCode(frame);
    uint32_t id = intern(code);
    Py_DECREF(code);  // the frame and the intern table keep it alive
    if (id == 0) break;
    if (!g_codes[id].internal) {
      site = SourceSite{id, PyFrame_GetLasti(frame)};
      break;
    }
    PyFrameObject* back = PyFrame_GetBack(frame);
    Py_XDECREF(owned);
    owned = back;
    frame = back;
  }
  Py_XDECREF(owned);
  return site;
}
#endif

// "train.py:12": the path relative to the working directory when it is below it.
std::string describe(SourceSite s) {
  py::gil_scoped_acquire gil;
  if (s.code >= g_codes.size()) return {};
  PyCodeObject* code = g_codes[s.code].code;
  std::string file = code_filename(code);
  py::object cwd = py::module_::import("os").attr("getcwd")();
  std::string dir = cwd.cast<std::string>() + "/";
  if (starts_with(file, dir)) file = file.substr(dir.size());
  return str(file, ":", PyCode_Addr2Line(code, s.offset));
}

// How well a Python tensor matches the tensor an error is about: 3 the same tensor,
// 2 the same memory and layout (a saved output's alias), 1 a view sharing its version.
int match(PyObject* obj, const Tensor& t) {
  const std::shared_ptr<TensorImpl>* h = tensor_holder(obj);
  if (!h || !*h) return 0;
  const TensorImpl& o = **h;
  if (&o == t.get()) return 3;
  if (o.storage() == t.storage() && o.offset() == t.offset() && o.shape() == t.shape() &&
      o.strides() == t.strides())
    return 2;
  return o.version_counter() == t->version_counter() ? 1 : 0;
}

// The name of the variable in the user's frames (innermost first, locals then globals)
// that holds `t`, or "".
std::string name_of(const Tensor& t) {
  if (!t.defined()) return {};
  py::gil_scoped_acquire gil;
  py::object frame = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(PyEval_GetFrame()));
  std::string best;
  int best_score = 0;
  for (int depth = 0; frame && !frame.is_none() && depth < 8 && best_score < 3; ++depth) {
    auto* f = reinterpret_cast<PyFrameObject*>(frame.ptr());
    py::object code = py::reinterpret_steal<py::object>(reinterpret_cast<PyObject*>(PyFrame_GetCode(f)));
    if (!is_internal(reinterpret_cast<PyCodeObject*>(code.ptr()))) {
      PyObject* locals = PyFrame_GetLocals(f);  // new reference; a dict for function and module frames
      if (!locals) {
        PyErr_Clear();
      } else {
        py::object owner = py::reinterpret_steal<py::object>(locals);
        py::object globals = py::reinterpret_steal<py::object>(PyFrame_GetGlobals(f));
        for (const py::object& scope : {owner, globals}) {
          if (!scope || !PyDict_Check(scope.ptr())) continue;
          PyObject *key, *value;
          Py_ssize_t pos = 0;
          while (PyDict_Next(scope.ptr(), &pos, &key, &value)) {
            int score = match(value, t);
            if (score > best_score && PyUnicode_Check(key)) {
              best_score = score;
              best = PyUnicode_AsUTF8(key);
            }
          }
          if (best_score == 3) break;
        }
      }
    }
    frame = py::reinterpret_steal<py::object>(reinterpret_cast<PyObject*>(PyFrame_GetBack(f)));
  }
  return best;
}

}  // namespace

void init_sites(py::module_& m) {
  set_site_recorder(SiteRecorder{&capture, &describe, &name_of});
  m.def("_set_internal_prefix", [](std::string prefix) { g_internal_prefix = std::move(prefix); });
  m.def("_set_record_sites", [](bool on) { g_recording = on; });
}

std::optional<std::string> creation_site(const Node& n) {
  std::string d = describe_site(n.site());
  if (d.empty()) return std::nullopt;
  return d;
}

}  // namespace ember::py_bind
