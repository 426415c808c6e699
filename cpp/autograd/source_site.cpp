#include "autograd/source_site.h"

namespace ember {

namespace {
SiteRecorder g_recorder;
thread_local SourceSite t_scope_site;
}  // namespace

void set_site_recorder(const SiteRecorder& r) { g_recorder = r; }

SourceSite capture_site() {
  if (t_scope_site.known()) return t_scope_site;
  return g_recorder.capture ? g_recorder.capture() : SourceSite{};
}

std::string describe_site(SourceSite s) {
  if (!s.known() || !g_recorder.describe) return {};
  return g_recorder.describe(s);
}

std::string at_site(SourceSite s) {
  std::string d = describe_site(s);
  return d.empty() ? d : " at " + d;
}

std::string user_name_of(const Tensor& t) { return g_recorder.name_of ? g_recorder.name_of(t) : std::string(); }

SiteScope::SiteScope(SourceSite site) : saved_(t_scope_site) {
  if (!t_scope_site.known()) t_scope_site = site;  // the outermost scope's site wins
}
SiteScope::~SiteScope() { t_scope_site = saved_; }

}  // namespace ember
