#include "ember/io/checkpoint.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <random>
#include <string_view>
#include <utility>

#include "ember/io/hdf5_file.h"
#include "ember/tensor/factories.h"

namespace ember::io {
namespace {

namespace fs = std::filesystem;

// Raised for a file that opened but is not a checkpoint this build reads: its message is
// complete, so load_checkpoint passes it on unchanged instead of wrapping it.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

template <class... Args>
[[noreturn]] void fail_checkpoint(fmt::format_string<Args...> format, Args&&... args) {
  throw CheckpointError(fmt::format(format, std::forward<Args>(args)...));
}

// HDF5 treats '/' as a separator and "." as the current group, and /manifest separates names
// by line breaks, so none of these may be in a key.
void check_name(const std::string& path, const std::string& section, const std::string& name) {
  EMBER_CHECK(
      !name.empty() && name != "." && name.find_first_of(std::string_view("/\n\0", 3)) == std::string_view::npos,
      "save_checkpoint {}: {} key '{}' cannot be an HDF5 name (empty, '.', or contains '/' or a line break)", path,
      section, name);
}

void check_section(const std::string& path, const std::string& section, const nn::StateDict& state) {
  for (const auto& [key, tensor] : state) {
    check_name(path, section, key);
    EMBER_CHECK(tensor.defined(), "save_checkpoint {}: {} entry '{}' is an undefined tensor", path, section, key);
  }
}

// CRC-32 (the IEEE polynomial of zlib, so python's zlib.crc32 computes the same value), eight
// bytes per step with eight tables. Each dataset carries one, because HDF5 checksums neither
// the data nor (in the default file format) most metadata: without it, damaged bytes inside a
// file of the right length would load as wrong weights.
constexpr std::array<std::array<uint32_t, 256>, 8> make_crc_tables() {
  std::array<std::array<uint32_t, 256>, 8> tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    tables[0][byte] = crc;
  }
  for (size_t table = 1; table < 8; ++table) {
    for (size_t byte = 0; byte < 256; ++byte) {
      tables[table][byte] = (tables[table - 1][byte] >> 8) ^ tables[0][tables[table - 1][byte] & 0xFF];
    }
  }
  return tables;
}
constexpr auto kCrcTables = make_crc_tables();

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (; size >= 8; data += 8, size -= 8) {
    uint32_t low = 0, high = 0;
    std::memcpy(&low, data, 4);
    std::memcpy(&high, data + 4, 4);
    low ^= crc;  // little-endian hosts only, as the rest of the file format
    crc = kCrcTables[7][low & 0xFF] ^ kCrcTables[6][(low >> 8) & 0xFF] ^ kCrcTables[5][(low >> 16) & 0xFF] ^
          kCrcTables[4][low >> 24] ^ kCrcTables[3][high & 0xFF] ^ kCrcTables[2][(high >> 8) & 0xFF] ^
          kCrcTables[1][(high >> 16) & 0xFF] ^ kCrcTables[0][high >> 24];
  }
  for (; size > 0; ++data, --size) crc = (crc >> 8) ^ kCrcTables[0][(crc ^ *data) & 0xFF];
  return ~crc;
}

uint32_t crc32(const Tensor& contiguous) {
  return crc32(static_cast<const uint8_t*>(contiguous.data_ptr()),
               static_cast<size_t>(contiguous.numel()) * static_cast<size_t>(element_size(contiguous.dtype())));
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

Tensor int64_scalar(int64_t value) {
  Tensor result = empty({}, kInt64);
  *result.data_ptr<int64_t>() = value;
  return result;
}

// Generator states are uint64; HDF5 files here hold int64, so the bits are stored as they are.
int64_t to_stored(uint64_t value) { return std::bit_cast<int64_t>(value); }
uint64_t from_stored(int64_t value) { return std::bit_cast<uint64_t>(value); }

Tensor text_bytes(const std::string& text) {
  Tensor bytes = empty({static_cast<int64_t>(text.size())}, kUInt8);
  if (!text.empty()) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  return bytes;
}

// Writes datasets, each with its CRC-32 as the attribute "crc32", and lists them in /manifest.
class Writer {
 public:
  explicit Writer(const std::string& path) : path_(path), file_(path, FileMode::CreateInMemory) {}
  Hdf5File& file() { return file_; }

  void write(const std::string& name, const Tensor& tensor) {
    const Tensor host = tensor.to(kCPU).contiguous();
    file_.write(name, host);
    file_.set_attribute(name, "crc32", static_cast<int64_t>(crc32(host)));
    manifest_ += name + "\n";
  }
  void write_state(const std::string& group, const nn::StateDict& state) {
    file_.create_group(group);
    for (const auto& [key, tensor] : state) write(group + "/" + key, tensor);
  }
  void finish() {
    const Tensor manifest = text_bytes(manifest_);
    file_.write("manifest", manifest);
    file_.set_attribute("manifest", "crc32", static_cast<int64_t>(crc32(manifest)));
    file_.write_image(path_);  // written and fsynced by Ember, not by HDF5: see FileMode
    file_.close();
  }

 private:
  std::string path_;
  Hdf5File file_;
  std::string manifest_;
};

void write_file(const std::string& path, const Checkpoint& checkpoint) {
  Writer writer(path);
  Hdf5File& file = writer.file();
  file.set_attribute("/", "format", kCheckpointFormat);
  file.set_attribute("/", "version", kCheckpointVersion);
  file.set_attribute("/", "step", checkpoint.step);
  file.set_attribute("/", "epoch", checkpoint.epoch);
  file.set_attribute("/", "world_size", checkpoint.world_size);
  file.set_attribute("/", "created", utc_now());
  writer.write_state("model", checkpoint.model);
  writer.write_state("optimizer", checkpoint.optimizer);
  writer.write_state("scheduler", checkpoint.scheduler);
  if (checkpoint.loader) {
    writer.write("loader/epoch", int64_scalar(checkpoint.loader->epoch));
    writer.write("loader/batches_consumed", int64_scalar(checkpoint.loader->batches_consumed));
  }
  file.create_group("rng");
  for (const auto& [name, state] : checkpoint.generators) {
    writer.write("rng/" + name + "/seed", int64_scalar(to_stored(state.seed)));
    writer.write("rng/" + name + "/offset", int64_scalar(to_stored(state.offset)));
  }
  file.create_group("metadata");
  for (const auto& [name, text] : checkpoint.metadata) writer.write("metadata/" + name, text_bytes(text));
  writer.finish();
}

// ".<name>.tmp-<pid>-<random>" beside the target: the same file system, so rename is atomic,
// and a name CheckpointManager never takes for a checkpoint.
fs::path temporary_path(const fs::path& target) {
  std::random_device device;
  const uint64_t random = (uint64_t{device()} << 32) | device();
  return target.parent_path() / fmt::format(".{}.tmp-{}-{:016x}", target.filename().string(), ::getpid(), random);
}

fs::path directory_of(const fs::path& path) { return path.has_parent_path() ? path.parent_path() : fs::path("."); }

// ---- reading ----

std::string join(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "'" : ", '") + name + "'";
  return joined.empty() ? "none" : joined;
}

// A dataset as a tensor, its bytes checked against its CRC-32.
Tensor read_checked(const Hdf5File& file, const std::string& name) {
  if (!file.is_dataset(name)) {
    fail_checkpoint("load_checkpoint {}: dataset '/{}', listed in /manifest, is missing (damaged file?)", file.path(),
                    name);
  }
  Tensor tensor = file.read(name);
  if (!file.has_attribute(name, "crc32")) {
    fail_checkpoint("load_checkpoint {}: dataset '/{}' has no 'crc32' attribute", file.path(), name);
  }
  const int64_t stored = file.attribute_int(name, "crc32");
  const uint32_t actual = crc32(tensor);
  if (stored != static_cast<int64_t>(actual)) {
    fail_checkpoint(
        "load_checkpoint {}: dataset '/{}' is corrupt (its bytes have CRC-32 {:08x}, the file recorded "
        "{:08x})",
        file.path(), name, actual, static_cast<uint64_t>(stored));
  }
  return tensor;
}

int64_t to_int64(const Hdf5File& file, const std::string& name, const Tensor& value) {
  if (!is_integral(value.dtype()) || value.numel() != 1) {
    fail_checkpoint("load_checkpoint {}: '/{}' must be one integer, got {} of shape {}", file.path(), name,
                    ember::name(value.dtype()), to_string(value.sizes()));
  }
  return value.to(kInt64).data_ptr<int64_t>()[0];
}

int64_t required_int(const Hdf5File& file, const char* name) {
  if (!file.has_attribute("/", name))
    fail_checkpoint("load_checkpoint {}: the root attribute '{}' is missing", file.path(), name);
  return file.attribute_int("/", name);
}

// The datasets /manifest lists, in the order they were written. HDF5 checksums little of its
// own structure, so damage can rename or hide a member silently; the manifest (itself under a
// CRC-32) turns that into an error.
std::vector<std::string> read_manifest(const Hdf5File& file) {
  if (!file.is_dataset("manifest"))
    fail_checkpoint("load_checkpoint {}: no /manifest dataset (damaged file?)", file.path());
  const Tensor bytes = read_checked(file, "manifest");
  if (bytes.dtype() != kUInt8 || bytes.dim() != 1) {
    fail_checkpoint("load_checkpoint {}: /manifest must be uint8 [n] text, got {} of shape {}", file.path(),
                    ember::name(bytes.dtype()), to_string(bytes.sizes()));
  }
  std::vector<std::string> names;
  const std::string_view text(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) names.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return names;
}

// Every dataset under the checkpoint's groups, to compare with the manifest.
void collect_datasets(const Hdf5File& file, const std::string& group, std::vector<std::string>& names) {
  if (!file.has(group)) return;
  for (const std::string& child : file.children(group)) {
    const std::string name = group + "/" + child;
    if (file.is_dataset(name)) {
      names.push_back(name);
    } else {
      collect_datasets(file, name, names);
    }
  }
}

Checkpoint read_file(const std::string& path) {
  const Hdf5File file(path, FileMode::Read);
  if (!file.has_attribute("/", "format")) {
    fail_checkpoint("load_checkpoint {}: not an ember checkpoint (no 'format' attribute on the root group)", path);
  }
  const std::string format = file.attribute_string("/", "format");
  if (format != kCheckpointFormat) {
    fail_checkpoint("load_checkpoint {}: not an ember checkpoint (format '{}', expected '{}')", path, format,
                    kCheckpointFormat);
  }
  Checkpoint checkpoint;
  checkpoint.path = path;
  checkpoint.version = required_int(file, "version");
  if (checkpoint.version > kCheckpointVersion) {
    fail_checkpoint(
        "load_checkpoint {}: checkpoint version {} is newer than this build of Ember reads (up to {}); "
        "upgrade Ember to load it",
        path, checkpoint.version, kCheckpointVersion);
  }
  if (checkpoint.version < 1)
    fail_checkpoint("load_checkpoint {}: invalid checkpoint version {}", path, checkpoint.version);
  checkpoint.step = required_int(file, "step");
  checkpoint.epoch = required_int(file, "epoch");
  checkpoint.world_size = required_int(file, "world_size");
  if (file.has_attribute("/", "created")) checkpoint.created = file.attribute_string("/", "created");

  const std::vector<std::string> manifest = read_manifest(file);
  std::vector<std::string> found;
  for (const char* group : {"model", "optimizer", "scheduler", "loader", "rng", "metadata"}) {
    collect_datasets(file, group, found);
  }
  std::vector<std::string> listed = manifest;
  std::sort(listed.begin(), listed.end());
  std::sort(found.begin(), found.end());
  std::vector<std::string> unlisted;
  std::set_difference(found.begin(), found.end(), listed.begin(), listed.end(), std::back_inserter(unlisted));
  if (!unlisted.empty()) {
    fail_checkpoint("load_checkpoint {}: dataset(s) not in /manifest (damaged file?): {}", path, join(unlisted));
  }

  std::optional<int64_t> loader_epoch, loader_batches;
  std::map<std::string, std::pair<std::optional<int64_t>, std::optional<int64_t>>> generators;
  for (const std::string& name : manifest) {
    const size_t slash = name.find('/');
    const std::string section = name.substr(0, slash);
    const std::string key = slash == std::string::npos ? "" : name.substr(slash + 1);
    if (key.empty()) fail_checkpoint("load_checkpoint {}: /manifest lists '{}', which is in no section", path, name);
    const Tensor value = read_checked(file, name);
    if (section == "model") {
      checkpoint.model.insert(key, value);
    } else if (section == "optimizer") {
      checkpoint.optimizer.insert(key, value);
    } else if (section == "scheduler") {
      checkpoint.scheduler.insert(key, value);
    } else if (name == "loader/epoch") {
      loader_epoch = to_int64(file, name, value);
    } else if (name == "loader/batches_consumed") {
      loader_batches = to_int64(file, name, value);
    } else if (section == "rng" && (key.ends_with("/seed") || key.ends_with("/offset"))) {
      const size_t last = key.rfind('/');
      auto& state = generators[key.substr(0, last)];
      (key.ends_with("/seed") ? state.first : state.second) = to_int64(file, name, value);
    } else if (section == "metadata") {
      if (value.dtype() != kUInt8 || value.dim() != 1) {
        fail_checkpoint("load_checkpoint {}: metadata '{}' must be uint8 [n] text, got {} of shape {}", path, key,
                        ember::name(value.dtype()), to_string(value.sizes()));
      }
      checkpoint.metadata[key] = std::string(static_cast<const char*>(value.data_ptr()), value.numel());
    } else {
      fail_checkpoint("load_checkpoint {}: /manifest lists '{}', which version {} does not define", path, name,
                      checkpoint.version);
    }
  }
  if (loader_epoch.has_value() != loader_batches.has_value()) {
    fail_checkpoint("load_checkpoint {}: /loader needs both 'epoch' and 'batches_consumed'", path);
  }
  if (loader_epoch) checkpoint.loader = LoaderPosition{*loader_epoch, *loader_batches};
  for (const auto& [name, state] : generators) {
    if (!state.first || !state.second) {
      fail_checkpoint("load_checkpoint {}: /rng/{} needs both 'seed' and 'offset'", path, name);
    }
    checkpoint.generators[name] = Generator::State{from_stored(*state.first), from_stored(*state.second)};
  }
  return checkpoint;
}

// A checkpoint file name "<prefix>-<digits>.h5" gives its step; anything else is not one.
std::optional<int64_t> step_of(const std::string& file_name, const std::string& prefix) {
  const std::string head = prefix + "-";
  constexpr std::string_view kSuffix = ".h5";
  if (file_name.size() <= head.size() + kSuffix.size() || !file_name.starts_with(head) ||
      !file_name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  const char* first = file_name.data() + head.size();
  const char* last = file_name.data() + file_name.size() - kSuffix.size();
  if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  int64_t step = 0;
  if (std::from_chars(first, last, step).ec != std::errc()) return std::nullopt;
  return step;
}

// The process id in a temporary file name that save_checkpoint gives a checkpoint of `prefix`
// (".<prefix>-<step>.h5.tmp-<pid>-<16 hex digits>"); nullopt for any other name.
std::optional<int64_t> writer_of_temporary(const std::string& file_name, const std::string& prefix) {
  constexpr std::string_view kMarker = ".tmp-";
  const size_t marker = file_name.rfind(kMarker);
  if (!file_name.starts_with('.') || marker == std::string::npos || !step_of(file_name.substr(1, marker - 1), prefix)) {
    return std::nullopt;
  }
  const std::string_view tail = std::string_view(file_name).substr(marker + kMarker.size());
  const size_t dash = tail.find('-');
  if (dash == std::string_view::npos || dash == 0 || tail.size() - dash - 1 != 16) return std::nullopt;
  const std::string_view random = tail.substr(dash + 1);
  if (!std::all_of(random.begin(), random.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  int64_t pid = 0;
  const auto [end, status] = std::from_chars(tail.data(), tail.data() + dash, pid);
  if (status != std::errc() || end != tail.data() + dash || pid <= 0) return std::nullopt;
  return pid;
}

}  // namespace

Generator::State Checkpoint::generator(const std::string& name) const {
  const auto found = generators.find(name);
  if (found == generators.end()) {
    std::vector<std::string> names;
    for (const auto& entry : generators) names.push_back(entry.first);
    fail("checkpoint {}: no generator state '{}' (saved: {})", path.empty() ? "(not loaded from a file)" : path, name,
         join(names));
  }
  return found->second;
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  check_section(path, "model", checkpoint.model);
  check_section(path, "optimizer", checkpoint.optimizer);
  check_section(path, "scheduler", checkpoint.scheduler);
  for (const auto& entry : checkpoint.generators) check_name(path, "generator", entry.first);
  for (const auto& entry : checkpoint.metadata) check_name(path, "metadata", entry.first);
  EMBER_CHECK(checkpoint.step >= 0 && checkpoint.epoch >= 0 && checkpoint.world_size >= 1,
              "save_checkpoint {}: step {} and epoch {} must be >= 0 and world_size {} >= 1", path, checkpoint.step,
              checkpoint.epoch, checkpoint.world_size);

  const fs::path target(path);
  EMBER_CHECK(target.has_filename(), "save_checkpoint: '{}' names a directory, not a file", path);
  const fs::path temporary = temporary_path(target);
  try {
    write_file(temporary.string(), checkpoint);
    if (std::rename(temporary.c_str(), target.c_str()) != 0) {
      fail("save_checkpoint {}: cannot rename the temporary file '{}' over it: {}", path, temporary.string(),
           std::strerror(errno));
    }
  } catch (const std::exception& error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    const std::string message = error.what();
    if (message.starts_with("save_checkpoint ")) throw;
    fail("save_checkpoint {}: writing failed, so the file was left as it was: {}", path, message);
  }
  // The rename is only durable once the directory entry is on disk.
  sync_file(directory_of(target).string());
}

Checkpoint load_checkpoint(const std::string& path) {
  try {
    return read_file(path);
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& error) {
    // HDF5's own errors name the object; this says what the caller was doing with which file.
    fail("load_checkpoint {}: cannot read the checkpoint (missing, truncated or corrupt file?): {}", path,
         error.what());
  }
}

void restore(const Checkpoint& checkpoint, nn::Module& model, optim::Optimizer* optimizer,
             optim::LRScheduler* scheduler) {
  const std::string file = checkpoint.path.empty() ? "(not loaded from a file)" : checkpoint.path;
  auto load = [&](const char* section, const nn::StateDict& state, auto&& apply) {
    if (state.empty()) fail("restore: checkpoint {} has no {} state to load", file, section);
    try {
      apply(state);
    } catch (const Error& error) {
      fail("restore: checkpoint {}, section /{}: {}", file, section, error.what());
    }
  };
  load("model", checkpoint.model, [&](const nn::StateDict& state) { model.load_state_dict(state, /*strict=*/true); });
  if (optimizer != nullptr) {
    load("optimizer", checkpoint.optimizer, [&](const nn::StateDict& state) { optimizer->load_state_dict(state); });
  }
  if (scheduler != nullptr) {
    load("scheduler", checkpoint.scheduler, [&](const nn::StateDict& state) { scheduler->load_state_dict(state); });
  }
}

CheckpointManager::CheckpointManager(std::string directory, CheckpointManagerOptions options)
    : directory_(std::move(directory)), options_(std::move(options)) {
  EMBER_CHECK(!directory_.empty(), "CheckpointManager: the directory is empty");
  EMBER_CHECK(options_.keep_last >= 0, "CheckpointManager {}: keep_last {} must be >= 0 (0 keeps every checkpoint)",
              directory_, options_.keep_last);
  EMBER_CHECK(options_.rank >= 0, "CheckpointManager {}: rank {} must be >= 0", directory_, options_.rank);
  EMBER_CHECK(!options_.prefix.empty() && options_.prefix.find('/') == std::string::npos && options_.prefix[0] != '.',
              "CheckpointManager {}: prefix '{}' must be a plain file name start (not empty, no '/', no leading '.')",
              directory_, options_.prefix);
}

std::string CheckpointManager::path_for(int64_t step) const {
  return (fs::path(directory_) / fmt::format("{}-{:08d}.h5", options_.prefix, step)).string();
}

std::vector<std::string> CheckpointManager::list() const {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code error;
  fs::directory_iterator entries(directory_, error);
  if (error) {
    EMBER_CHECK(error == std::errc::no_such_file_or_directory, "CheckpointManager: cannot list '{}': {}", directory_,
                error.message());
    return {};
  }
  for (const fs::directory_entry& entry : entries) {
    const std::optional<int64_t> step = step_of(entry.path().filename().string(), options_.prefix);
    std::error_code ignored;
    if (step && entry.is_regular_file(ignored)) found.emplace_back(*step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  paths.reserve(found.size());
  for (auto& [step, path] : found) paths.push_back(std::move(path));
  return paths;
}

void CheckpointManager::remove_abandoned_temporaries() const {
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_, error)) {
    const std::optional<int64_t> writer = writer_of_temporary(entry.path().filename().string(), options_.prefix);
    // kill(pid, 0) fails with ESRCH only when no process has that id: a live writer, or an id
    // reused since, keeps its file.
    if (writer && ::kill(static_cast<pid_t>(*writer), 0) != 0 && errno == ESRCH) {
      std::error_code ignored;  // another rank-0 process may have removed it first
      fs::remove(entry.path(), ignored);
    }
  }
}

std::optional<std::string> CheckpointManager::latest() const {
  std::vector<std::string> paths = list();
  if (paths.empty()) return std::nullopt;
  return std::move(paths.back());
}

std::optional<std::string> CheckpointManager::save(const Checkpoint& checkpoint) const {
  if (options_.rank != 0) return std::nullopt;
  std::error_code error;
  fs::create_directories(directory_, error);
  EMBER_CHECK(!error, "CheckpointManager: cannot create directory '{}': {}", directory_, error.message());
  const std::string path = path_for(checkpoint.step);
  save_checkpoint(path, checkpoint);
  remove_abandoned_temporaries();
  if (options_.keep_last > 0) {
    std::vector<std::string> paths = list();
    std::erase(paths, path);
    const int64_t excess = static_cast<int64_t>(paths.size()) + 1 - options_.keep_last;
    for (int64_t i = 0; i < excess; ++i) {
      fs::remove(paths[static_cast<size_t>(i)], error);
      EMBER_CHECK(!error, "CheckpointManager: cannot remove old checkpoint '{}': {}", paths[static_cast<size_t>(i)],
                  error.message());
    }
  }
  return path;
}

}  // namespace ember::io
