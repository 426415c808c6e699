// VersionCounter: how many in-place writes a tensor's memory has seen.
//
// Shared by a tensor and its views (and detach()), so an in-place write through any of
// them is seen by every SavedVariable that saved one of them. Besides the count it
// remembers the last writer (op name and where the user's code called it) for the
// in-place error message.
#pragma once

#include <atomic>
#include <cstdint>

#include "autograd/source_site.h"  // SourceSite only: no dependency back on tensors

namespace ember {

struct VersionCounter {
  std::atomic<uint32_t> value{0};
  std::atomic<bool> saved{false};     // a SavedVariable holds it: only then are writers recorded
  const char* last_writer = nullptr;  // a string literal: the op's name
  SourceSite writer_site;             // where the user's code called it
};

}  // namespace ember
