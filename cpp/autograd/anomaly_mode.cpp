#include "autograd/anomaly_mode.h"

#include <atomic>

namespace ember {

namespace {
std::atomic<bool> enabled{false};
std::atomic<bool> check_nan{true};
}  // namespace

bool AnomalyMode::is_enabled() { return enabled.load(std::memory_order_relaxed); }
bool AnomalyMode::should_check_nan() { return check_nan.load(std::memory_order_relaxed); }
void AnomalyMode::set_enabled(bool on, bool nan) {
  enabled.store(on, std::memory_order_relaxed);
  check_nan.store(nan, std::memory_order_relaxed);
}

}  // namespace ember
