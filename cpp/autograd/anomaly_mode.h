// Anomaly mode: when on, the engine checks every gradient a node returns and raises,
// naming the node, on the first NaN (as PyTorch does) or infinity (ember also checks
// this). Process-wide, as in PyTorch; off by default, and then it costs one load of a
// flag per node in backward.
#pragma once

namespace ember {

struct AnomalyMode {
  static bool is_enabled();
  static bool should_check_nan();
  static void set_enabled(bool enabled, bool check_nan = true);
};

}  // namespace ember
