// A shard file mapped read-only, so that rows are copied straight out of the page cache.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

  // Throws unless the file still holds its first `end` bytes, naming `what` was being read.
  // Touching a mapped page past the end of a file that was cut short after it was mapped ends
  // the process with SIGBUS instead of an error, so readers check before they copy: one fstat.
  void check_holds(uint64_t end, std::string_view what) const;

 private:
  std::string path_;
  int descriptor_ = -1;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ember::io::detail
