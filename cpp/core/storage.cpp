#include "core/storage.h"

#include <cstdlib>

#include "core/error.h"

namespace ember {

namespace {
constexpr size_t kAlignment = 64;
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  std::shared_ptr<Storage> s(new Storage());
  size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded < nbytes) rounded = SIZE_MAX;  // overflowed: let the allocator refuse
  if (rounded == 0) rounded = kAlignment;
  void* p = rounded == SIZE_MAX ? nullptr : std::aligned_alloc(kAlignment, rounded);
  if (!p) {
    throw Error(ErrorKind::Runtime, str("DefaultCPUAllocator: can't allocate memory: you tried to allocate ",
                                        nbytes, " bytes."));
  }
  s->data_ = p;
  s->nbytes_ = nbytes;
  return s;
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t nbytes, std::shared_ptr<void> owner) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = data;
  s->nbytes_ = nbytes;
  s->owner_ = owner ? std::move(owner) : std::shared_ptr<void>(data, [](void*) {});
  return s;
}

Storage::~Storage() {
  if (!owner_) std::free(data_);
}

}  // namespace ember
