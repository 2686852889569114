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

int64_t MappedFile::size_now() const {
  struct stat status {};
  return ::fstat(descriptor_, &status) == 0 ? static_cast<int64_t>(status.st_size) : -1;
}

}  // namespace ember::io::detail
