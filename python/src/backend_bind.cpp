// The CPU backend: which kernel table dispatch chose, the thread count, the buffer cache.
#include "common.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "kernels/kernels.h"

namespace ember::py_bind {

void init_backend(py::module_& m) {
  m.def(
      "backend_info",
      [] {
        kernels::BackendInfo b = kernels::backend_info();
        py::dict d;
        d["kernels"] = b.table;
        d["cpu_avx2"] = b.cpu_avx2;
        d["cpu_fma"] = b.cpu_fma;
        d["cpu_avx512"] = b.cpu_avx512;
        d["ember_cpu"] = b.ember_cpu ? py::object(py::str(b.ember_cpu)) : py::object(py::none());
        d["torch_capability"] = kernels::torch_capability();
        d["num_threads"] = parallel::get_num_threads();
        d["cached_bytes"] = Storage::cached_bytes();
        return d;
      },
      "What the CPU backend chose: the kernel table ('avx512', 'avx2' or 'reference'), the CPU features it "
      "saw, EMBER_CPU, the build of torch's CPU kernels whose bit-exact results (random streams, "
      "linspace) ember reproduces ('AVX512', 'AVX2' or 'DEFAULT'), the thread count and the bytes held by the "
      "buffer cache.");
  m.def(
      "set_num_threads",
      [](int n) {
        EMBER_CHECK(n > 0, "set_num_threads expects a positive integer (in set_num_threads: got ", n, ")");
        parallel::set_num_threads(n);
      },
      py::arg("n"), "Sets the number of threads the large kernels use.");
  m.def("get_num_threads", &parallel::get_num_threads, "The number of threads the large kernels use.");
  m.def("_release_cache", &Storage::release_cache, "Frees the cached CPU buffers; returns the bytes released.");
}

}  // namespace ember::py_bind
