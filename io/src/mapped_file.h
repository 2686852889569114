// A shard file mapped read-only, so that rows are copied straight out of the page cache.
#pragma once

#include <cstdint>
#include <string>

namespace ember::io::detail {

class MappedFile {
 public:
  // Maps the whole file. Throws naming the path when it cannot be opened or mapped.
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // The file's size now (one fstat), or -1 when it cannot be read. Touching a mapped page past
  // the end of a file that was cut short after it was mapped ends the process with SIGBUS
  // instead of an error, so readers check this before they copy.
  int64_t size_now() const;

 private:
  std::string path_;
  int descriptor_ = -1;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ember::io::detail
