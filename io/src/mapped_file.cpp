#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ember/tensor/error.h"

namespace ember::io::detail {

MappedFile::MappedFile(std::string path) : path_(std::move(path)) {
  descriptor_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  EMBER_CHECK(descriptor_ >= 0, "sharded dataset: cannot open '{}' for mapping: {}", path_, std::strerror(errno));
  struct stat status {};
  if (::fstat(descriptor_, &status) != 0 || status.st_size <= 0) {
    const int error = errno;
    ::close(descriptor_);
    fail("sharded dataset: cannot map '{}': {}", path_, status.st_size <= 0 ? "the file is empty" : std::strerror(error));
  }
  void* mapping = ::mmap(nullptr, static_cast<size_t>(status.st_size), PROT_READ, MAP_SHARED, descriptor_, 0);
  if (mapping == MAP_FAILED) {
    const int error = errno;
    ::close(descriptor_);
    fail("sharded dataset: cannot map '{}' ({} bytes): {}", path_, status.st_size, std::strerror(error));
  }
  data_ = static_cast<const uint8_t*>(mapping);
  size_ = static_cast<uint64_t>(status.st_size);
}

MappedFile::~MappedFile() {
  ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
  ::close(descriptor_);
}

void MappedFile::check_holds(uint64_t end, std::string_view what) const {
  struct stat status {};
  const bool stat_ok = ::fstat(descriptor_, &status) == 0;
  EMBER_CHECK(stat_ok && static_cast<uint64_t>(status.st_size) >= end && end <= size_,
              "sharded dataset: reading {} from '{}' (up to byte {}) failed: the file ends there ({} bytes now)", what,
              path_, end, stat_ok ? static_cast<int64_t>(status.st_size) : -1);
}

}  // namespace ember::io::detail
