// Where in the user's program something happened: a node was created, a tensor was
// written in place, backward() was called.
//
// The core knows nothing of Python. The bindings install a SiteRecorder whose capture
// reads the calling Python frame and returns two integers (an interned code object and
// an instruction offset): a few tens of nanoseconds, cheap enough to do for every node,
// always. Turning a site into "train.py:12", and finding the user's name for a tensor,
// happen only when an error message is written.
//
// Where the calling frame cannot be read (the GIL is released for a large kernel or for
// backward), the bindings open a SiteScope with the site captured just before, and
// capture_site() returns that instead.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

class Tensor;

struct SourceSite {
  uint32_t code = 0;  // 0: unknown
  int32_t offset = 0;
  bool known() const { return code != 0; }
};

struct SiteRecorder {
  SourceSite (*capture)() = nullptr;
  std::string (*describe)(SourceSite) = nullptr;    // "train.py:12"
  std::string (*name_of)(const Tensor&) = nullptr;  // the user's variable for the tensor, or ""
};

void set_site_recorder(const SiteRecorder& r);

// The caller's site; unknown when no recorder is installed.
SourceSite capture_site();
// "train.py:12", or "" when unknown.
std::string describe_site(SourceSite s);
// " at train.py:12", or "" when unknown: for splicing into a sentence.
std::string at_site(SourceSite s);
// The name the user's code has for `t` ("w1"), or "" when none is found.
std::string user_name_of(const Tensor& t);

// Makes capture_site() on this thread return `site` while the scope lives.
class SiteScope {
 public:
  explicit SiteScope(SourceSite site);
  ~SiteScope();
  SiteScope(const SiteScope&) = delete;
  SiteScope& operator=(const SiteScope&) = delete;

 private:
  SourceSite saved_;
};

}  // namespace ember
