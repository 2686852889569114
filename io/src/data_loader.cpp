#include "ember/io/data_loader.h"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include "ember/tensor/error.h"
#include "ember/tensor/factories.h"
#include "ember/tensor/storage.h"

namespace ember::io {

DataLoaderOptions& DataLoaderOptions::transform(std::string field, std::shared_ptr<const Transform> transform) {
  transforms_.push_back(FieldTransform{std::move(field), std::move(transform)});
  return *this;
}

const std::vector<std::string>& Batch::names() const {
  static const std::vector<std::string> none;
  return names_ ? *names_ : none;
}

const Tensor& Batch::operator[](std::string_view field) const {
  const std::vector<std::string>& all = names();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == field) return tensors_[i];
  }
  fail("Batch: no field '{}' (fields: {})", field, fmt::join(all, ", "));
}

namespace {

// Thrown inside a worker when its pass is cancelled mid-batch; never leaves the worker.
struct LoadCancelled {};

// "3, 17, 42" or, for long batches, the first ones and a count.
std::string describe_indices(const std::vector<int64_t>& indices) {
  constexpr size_t kShown = 16;
  const size_t shown = std::min(indices.size(), kShown);
  std::string text = fmt::format("{}", fmt::join(indices.begin(), indices.begin() + static_cast<ptrdiff_t>(shown), ", "));
  if (shown < indices.size()) text += fmt::format(", ... ({} in all)", indices.size());
  return text;
}

// Message of whatever a dataset or transform threw.
std::string reason(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& exception) {
    return exception.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

// A contiguous tensor of `sizes`, in page-locked memory when `pinned`.
Tensor allocate(IntArrayRef sizes, DType dtype, bool pinned) {
  if (!pinned) return empty(sizes, dtype);
  const size_t nbytes = static_cast<size_t>(checked_numel(sizes, "DataLoader", element_size(dtype)) * element_size(dtype));
  Storage storage = std::make_shared<StorageImpl>();
  storage->data = pinned_allocator().allocate(nbytes);
  storage->nbytes = nbytes;
  storage->device = kCPU;
  return make_tensor(std::move(storage), sizes, contiguous_strides(sizes), 0, dtype);
}

// Row `row` of a contiguous [n, sample...] tensor, as a view shaped like one sample.
Tensor row_view(const Tensor& batch, const DimVector& sample_shape, const DimVector& sample_strides, int64_t row) {
  const int64_t row_elements = product(sample_shape);
  return make_tensor(batch.storage(), sample_shape, sample_strides, batch.storage_offset() + row * row_elements,
                     batch.dtype());
}

}  // namespace

// One transform of a field's chain, with the sample it takes and the one it makes.
struct TransformStep {
  std::shared_ptr<const Transform> transform;
  Field output;
};

// What turns a batch's indices into a Batch: immutable once built, shared by the loader, its
// passes and their worker threads.
class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Dataset> source, std::shared_ptr<const Sampler> order, const DataLoaderOptions& options)
      : dataset(std::move(source)),
        sampler(std::move(order)),
        batch_sampler(sampler, options.batch_size(), options.drop_last()),
        seed(options.seed()),
        batch_size(options.batch_size()),
        pinned(options.pin_memory() && cuda_is_available()) {
    input_fields = dataset->fields();
    steps.resize(input_fields.size());
    for (const FieldTransform& entry : options.transforms()) {
      EMBER_CHECK(entry.transform != nullptr, "DataLoader: the transform for field '{}' is null", entry.field);
      add_steps(dataset->field_index(entry.field), entry.transform);
    }
    auto names_list = std::make_shared<std::vector<std::string>>();
    for (size_t f = 0; f < input_fields.size(); ++f) {
      output_fields.push_back(steps[f].empty() ? input_fields[f] : steps[f].back().output);
      names_list->push_back(input_fields[f].name);
    }
    names = std::move(names_list);
  }

  // Batch `number` of `epoch`; every failure is an ember::Error naming the batch (and the sample,
  // when one is to blame). Throws LoadCancelled when `cancelled` is set meanwhile.
  Batch load(int64_t epoch, int64_t number, const std::vector<int64_t>& indices, const std::atomic<bool>& cancelled) const {
    try {
      return load_unchecked(epoch, number, indices, cancelled);
    } catch (const Error&) {
      throw;
    } catch (const LoadCancelled&) {
      throw;
    } catch (...) {
      fail("DataLoader: batch {} of epoch {} (samples {}): {}", number, epoch, describe_indices(indices),
           reason(std::current_exception()));
    }
  }

  std::shared_ptr<const Dataset> dataset;
  std::shared_ptr<const Sampler> sampler;
  BatchSampler batch_sampler;
  uint64_t seed;
  int64_t batch_size;
  bool pinned;
  std::vector<Field> input_fields;
  std::vector<Field> output_fields;
  std::vector<std::vector<TransformStep>> steps;  // per field
  std::shared_ptr<const std::vector<std::string>> names;

 private:
  // A Compose is unpacked so that the loader, not Compose, owns the intermediate buffers.
  void add_steps(size_t field, const std::shared_ptr<const Transform>& transform) {
    if (const auto* compose = dynamic_cast<const Compose*>(transform.get())) {
      for (const auto& inner : compose->transforms()) add_steps(field, inner);
      return;
    }
    Field output = transform->output_field(steps[field].empty() ? input_fields[field] : steps[field].back().output);
    TransformStep& step = steps[field].emplace_back();
    step.transform = transform;
    step.output = std::move(output);
  }

  Batch load_unchecked(int64_t epoch, int64_t number, const std::vector<int64_t>& indices,
                       const std::atomic<bool>& cancelled) const;
  void check_read(const std::vector<Tensor>& rows, int64_t count, int64_t number, int64_t epoch) const;
  // row_of: as in load_unchecked, empty when row j of `rows` is the batch's sample j.
  void transform_rows(size_t field, const Tensor& rows, const std::vector<int64_t>& row_of,
                      const std::vector<int64_t>& indices, const Tensor& output, int64_t number, int64_t epoch,
                      const std::atomic<bool>& cancelled) const;
};

void BatchLoader::check_read(const std::vector<Tensor>& rows, int64_t count, int64_t number, int64_t epoch) const {
  EMBER_CHECK(rows.size() == input_fields.size(),
              "DataLoader: batch {} of epoch {}: the dataset returned {} tensors for its {} fields", number, epoch,
              rows.size(), input_fields.size());
  for (size_t f = 0; f < rows.size(); ++f) {
    const Field& field = input_fields[f];
    DimVector expected{count};
    expected.insert(expected.end(), field.sample_shape.begin(), field.sample_shape.end());
    const Tensor& tensor = rows[f];
    EMBER_CHECK(tensor.defined() && tensor.device().is_cpu() && tensor.is_contiguous() &&
                    tensor.dtype() == field.dtype && tensor.sizes() == IntArrayRef(expected),
                "DataLoader: batch {} of epoch {}: the dataset returned field '{}' as {}, expected a contiguous CPU {} "
                "tensor shaped {}",
                number, epoch, field.name,
                tensor.defined() ? fmt::format("{} {} on {}", name(tensor.dtype()), to_string(tensor.sizes()),
                                               tensor.device().str())
                                 : std::string("an undefined tensor"),
                name(field.dtype), to_string(expected));
  }
}

Batch BatchLoader::load_unchecked(int64_t epoch, int64_t number, const std::vector<int64_t>& indices,
                                  const std::atomic<bool>& cancelled) const {
  const int64_t count = static_cast<int64_t>(indices.size());
  // A dataset that reads any order, or a batch already ascending, reads the batch's indices as
  // they are, and the result is the batch. Otherwise the dataset reads ascending, distinct
  // indices (few, long runs for a file) and row_of[j] is the row of that read holding the
  // batch's sample j.
  const bool direct = dataset->reads_any_order() ||
                      std::adjacent_find(indices.begin(), indices.end(), [](int64_t a, int64_t b) { return a >= b; }) ==
                          indices.end();
  std::vector<int64_t> unique;
  std::vector<int64_t> row_of;
  if (!direct) {
    std::vector<int64_t> order(indices.size());
    std::iota(order.begin(), order.end(), int64_t{0});
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return indices[a] < indices[b]; });
    unique.reserve(indices.size());
    row_of.resize(indices.size());
    for (int64_t j : order) {
      if (unique.empty() || unique.back() != indices[j]) unique.push_back(indices[j]);
      row_of[j] = static_cast<int64_t>(unique.size()) - 1;
    }
  }
  const std::vector<int64_t>& requested = direct ? indices : unique;

  std::vector<Tensor> rows;
  try {
    rows = dataset->read(requested);
  } catch (...) {
    fail("DataLoader: batch {} of epoch {} (samples {}): {}", number, epoch, describe_indices(indices),
         reason(std::current_exception()));
  }
  check_read(rows, static_cast<int64_t>(requested.size()), number, epoch);
  if (cancelled.load(std::memory_order_relaxed)) throw LoadCancelled{};

  Batch batch;
  batch.names_ = names;
  batch.indices_ = indices;
  batch.epoch_ = epoch;
  batch.number_ = number;
  batch.tensors_.reserve(rows.size());
  for (size_t f = 0; f < rows.size(); ++f) {
    if (steps[f].empty() && direct && !pinned) {
      batch.tensors_.push_back(std::move(rows[f]));  // already the batch: no copy
      continue;
    }
    const Field& field = output_fields[f];
    DimVector sizes{count};
    sizes.insert(sizes.end(), field.sample_shape.begin(), field.sample_shape.end());
    Tensor output = allocate(sizes, field.dtype, pinned);
    if (steps[f].empty()) {
      const size_t row_bytes = static_cast<size_t>(product(field.sample_shape) * element_size(field.dtype));
      const std::byte* source = static_cast<const std::byte*>(rows[f].data_ptr());
      std::byte* destination = static_cast<std::byte*>(output.data_ptr());
      if (direct) {
        std::memcpy(destination, source, static_cast<size_t>(count) * row_bytes);  // into pinned memory
      } else {
        for (int64_t j = 0; j < count; ++j) {
          std::memcpy(destination + j * row_bytes, source + row_of[j] * row_bytes, row_bytes);
        }
      }
    } else {
      transform_rows(f, rows[f], row_of, indices, output, number, epoch, cancelled);
    }
    batch.tensors_.push_back(std::move(output));
  }
  return batch;
}

void BatchLoader::transform_rows(size_t field, const Tensor& rows, const std::vector<int64_t>& row_of,
                                 const std::vector<int64_t>& indices, const Tensor& output, int64_t number,
                                 int64_t epoch, const std::atomic<bool>& cancelled) const {
  const std::vector<TransformStep>& chain = steps[field];
  // Intermediate results of one sample, reused for every sample of the batch.
  std::vector<Tensor> scratch;
  for (size_t s = 0; s + 1 < chain.size(); ++s) scratch.push_back(empty(chain[s].output.sample_shape, chain[s].output.dtype));
  const DimVector& input_shape = input_fields[field].sample_shape;
  const DimVector& output_shape = output_fields[field].sample_shape;
  const DimVector input_strides = contiguous_strides(input_shape);
  const DimVector output_strides = contiguous_strides(output_shape);
  for (size_t j = 0; j < indices.size(); ++j) {
    if (cancelled.load(std::memory_order_relaxed)) throw LoadCancelled{};
    // Keyed by position and index: a sample repeated in one epoch gets fresh randomness, and
    // every field of a sample gets the same draws (a mask is cropped like its image).
    const int64_t position = number * batch_size + static_cast<int64_t>(j);
    SampleRandom random = SampleRandom::for_sample(seed, epoch, position, indices[j]);
    const Tensor input = row_view(rows, input_shape, input_strides, row_of.empty() ? static_cast<int64_t>(j) : row_of[j]);
    const Tensor target = row_view(output, output_shape, output_strides, static_cast<int64_t>(j));
    size_t s = 0;
    try {
      for (; s < chain.size(); ++s) {
        chain[s].transform->apply(s == 0 ? input : scratch[s - 1], s + 1 == chain.size() ? target : scratch[s], random);
      }
    } catch (...) {
      fail("DataLoader: {} on field '{}' of sample {} (batch {} of epoch {}): {}", chain[s].transform->repr(),
           input_fields[field].name, indices[j], number, epoch, reason(std::current_exception()));
    }
  }
}

// How long a thread polls for a hand-off before sleeping on a condition variable. Loading a
// small batch from memory takes ~10 us, while sleeping and being woken costs a futex call on
// each side and a context switch, and on a busy machine the woken thread may wait for a core
// much longer. Polling yields the core each time, so a worker sharing it still runs (a pause
// loop instead starves it: loading measured 3-4x slower on 2 busy cores).
constexpr std::chrono::microseconds kSpinBeforeSleeping{30};

// Polls `ready` for up to kSpinBeforeSleeping; true if it became true meanwhile.
template <class Ready>
bool spin_until(Ready ready) {
  if (ready()) return true;
  const auto deadline = std::chrono::steady_clock::now() + kSpinBeforeSleeping;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    if (ready()) return true;
  }
  return false;
}

// One pass over (the rest of) an epoch: the batch lists, the worker threads and the batches they
// have loaded. Workers claim batch numbers in order, no further than `window` past the next one
// the training thread will take, and put each result in the slot of its number, so the training
// thread receives the batches in order whoever loaded them.
//
// The hand-off takes no lock while both sides are awake: a slot belongs to its worker until
// `done` is published, then to the training thread until it advances `next_`. The mutex and the
// condition variables serve only a side that went to sleep. (A mutex taken on every hand-off was
// contended at once, since the worker publishes and the training thread, polling, arrives within
// nanoseconds: a futex sleep and wake on most small batches.)
class LoaderPass {
 public:
  LoaderPass(std::shared_ptr<const BatchLoader> loader, int64_t epoch, int64_t first, int64_t workers, int64_t window)
      : loader_(std::move(loader)),
        epoch_(epoch),
        batches_(loader_->batch_sampler.batches(epoch)),
        end_(static_cast<int64_t>(batches_.size())),
        next_(first),
        next_claim_(first),
        window_(window) {
    EMBER_CHECK(end_ == loader_->batch_sampler.size(),
                "DataLoader: epoch {} has {} batches but the sampler's size() promises {} (sampler size {})", epoch, end_,
                loader_->batch_sampler.size(), loader_->sampler->size());
    const int64_t threads = std::min(workers, end_ - first);
    if (threads <= 0) return;
    slots_ = std::make_unique<Slot[]>(static_cast<size_t>(window_));
    try {
      for (int64_t t = 0; t < threads; ++t) threads_.emplace_back([this] { work(); });
    } catch (const std::exception& error) {
      shutdown();
      fail("DataLoader: could not start {} worker threads: {}", threads, error.what());
    }
  }
  ~LoaderPass() { shutdown(); }

  // Moves to the next batch (the first one on the first call); false at the end of the pass.
  bool advance() {
    if (next_ >= end_) {
      finished_ = true;
      return false;
    }
    if (threads_.empty()) {
      current_ = loader_->load(epoch_, next_, batches_[next_], cancelled_);
      ++next_;
      return true;
    }
    Slot& slot = slots_[static_cast<size_t>(next_ % window_)];
    const auto loaded = [&] { return slot.done.load(); };
    // Until its batch is ready, this thread loads the batches no worker has claimed yet. Then it
    // polls: a worker often finishes within microseconds, and polling instead of sleeping spares
    // both threads a futex call and a context switch per batch.
    while (!loaded() && help()) {
    }
    if (!spin_until(loaded)) sleep_until(completed_, trainer_sleeping_, loaded);
    // A failed batch keeps its slot: advancing again throws the same error.
    if (slot.error) std::rethrow_exception(slot.error);
    Batch batch = std::move(slot.batch);
    slot.batch = Batch{};
    // The batch before this one goes back to the worker that fills this slot next, to be freed
    // there (see Slot::retired).
    if (current_) slot.retired = std::move(*current_);
    slot.done.store(false, std::memory_order_relaxed);
    next_.store(next_ + 1);  // hands the slot back: the worker claiming it may now write it
    wake(claimable_, workers_sleeping_);
    current_ = std::move(batch);
    return true;
  }

  const Batch& current() const { return *current_; }
  bool finished() const { return finished_; }
  int64_t epoch() const { return epoch_; }

  // Cancels the work not yet done and joins the threads: each finishes at most the read it is in.
  void shutdown() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    claimable_.notify_all();
    completed_.notify_all();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    slots_.reset();
  }

  // False once the loader started another pass, moved or was destroyed.
  bool valid = true;

 private:
  struct Slot {
    std::atomic<bool> done{false};  // the batch or error is there, for the training thread
    Batch batch;
    std::exception_ptr error;
    // A batch the training thread has moved past, freed by the worker that fills the slot next.
    // Its memory came from that worker's malloc arena: freed in the training thread, every block
    // would take the arena's lock while the worker allocates from it, and the two threads
    // contending for it (futex sleeps) cost more than loading a small batch.
    Batch retired;
  };

  // Sleeps on `condition` until `ready`. `sleeping` tells the other side to wake us: set before
  // `ready` is checked under the mutex, and read by wake() after the other side made `ready`
  // true, so one of the two sees the other's write (both sequentially consistent).
  template <class Ready>
  void sleep_until(std::condition_variable& condition, std::atomic<int>& sleeping, Ready ready) {
    std::unique_lock lock(mutex_);
    sleeping.fetch_add(1);
    condition.wait(lock, ready);
    sleeping.fetch_sub(1);
  }

  // After making a sleeper's condition true. Taking the mutex first means a sleeper that has
  // checked its condition is already waiting, so it receives the notification.
  void wake(std::condition_variable& condition, const std::atomic<int>& sleeping) {
    if (sleeping.load() == 0) return;
    { std::lock_guard lock(mutex_); }
    condition.notify_all();
  }

  void work() {
    while (true) {
      const int64_t number = next_claim_.fetch_add(1);
      if (number >= end_) return;
      // Room in the window: the slot's previous batch (number - window) was taken.
      const auto has_room = [&] { return cancelled_.load() || number < next_.load() + window_; };
      if (!spin_until(has_room)) sleep_until(claimable_, workers_sleeping_, has_room);
      if (cancelled_) return;
      try {
        load_into_slot(number);
      } catch (const LoadCancelled&) {
        return;
      }
    }
  }

  // The training thread, waiting for its batch, loads the next batch no worker has claimed yet,
  // if it is within the window. Waiting would only spin: with as many busy threads as cores, the
  // wait is for a core as much as for the worker. Returns whether it loaded one.
  bool help() {
    int64_t number = next_claim_.load();
    while (number < end_ && number < next_.load() + window_) {
      if (next_claim_.compare_exchange_weak(number, number + 1)) {
        try {
          load_into_slot(number);
        } catch (const LoadCancelled&) {
          return false;  // only after shutdown(), which the training thread itself calls
        }
        return true;
      }
    }
    return false;
  }

  // Loads batch `number` (claimed, with room in the window) and publishes it, or its error, in
  // its slot. Throws LoadCancelled only.
  void load_into_slot(int64_t number) {
    Batch batch;
    std::exception_ptr error;
    try {
      batch = loader_->load(epoch_, number, batches_[static_cast<size_t>(number)], cancelled_);
    } catch (const LoadCancelled&) {
      throw;
    } catch (...) {
      error = std::current_exception();
    }
    Slot& slot = slots_[static_cast<size_t>(number % window_)];
    const Batch retired = std::move(slot.retired);  // freed here, on return
    slot.batch = std::move(batch);
    slot.error = std::move(error);
    slot.done.store(true);
    wake(completed_, trainer_sleeping_);
  }

  const std::shared_ptr<const BatchLoader> loader_;
  const int64_t epoch_;
  const std::vector<std::vector<int64_t>> batches_;
  const int64_t end_;
  std::optional<Batch> current_;
  bool finished_ = false;

  std::atomic<int64_t> next_;        // the next batch the training thread takes; written by it only
  std::atomic<int64_t> next_claim_;  // the next batch a worker loads
  const int64_t window_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;                   // only for sleeping and waking
  std::condition_variable claimable_;  // workers sleep here for room in the window
  std::condition_variable completed_;  // the training thread sleeps here for its batch
  std::atomic<int> workers_sleeping_{0};
  std::atomic<int> trainer_sleeping_{0};
  std::vector<std::thread> threads_;
};

// ---- DataLoader ----

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options) : options_(std::move(options)) {
  EMBER_CHECK(dataset != nullptr, "DataLoader: the dataset is null");
  EMBER_CHECK(options_.batch_size() >= 1, "DataLoader: batch_size must be at least 1, got {}", options_.batch_size());
  EMBER_CHECK(options_.num_workers() >= 0, "DataLoader: num_workers must not be negative, got {}",
              options_.num_workers());
  EMBER_CHECK(options_.prefetch_factor() >= 1, "DataLoader: prefetch_factor must be at least 1, got {}",
              options_.prefetch_factor());
  std::shared_ptr<const Sampler> sampler = options_.sampler();
  if (sampler) {
    EMBER_CHECK(!options_.shuffle(), "DataLoader: the sampler option is mutually exclusive with shuffle");
  } else if (options_.shuffle()) {
    sampler = std::make_shared<RandomSampler>(dataset->size(), options_.seed());
  } else {
    sampler = std::make_shared<SequentialSampler>(dataset->size());
  }
  loader_ = std::make_shared<const BatchLoader>(std::move(dataset), std::move(sampler), options_);
}

DataLoader::~DataLoader() { invalidate_pass(); }

void DataLoader::invalidate_pass() {
  if (std::shared_ptr<LoaderPass> pass = pass_.lock()) {
    pass->valid = false;
    pass->shutdown();
  }
  pass_.reset();
}

DataLoader::Iterator DataLoader::begin() {
  invalidate_pass();
  auto pass = std::make_shared<LoaderPass>(loader_, epoch_, batches_consumed_, options_.num_workers(),
                                           options_.num_workers() * options_.prefetch_factor());
  pass_ = pass;
  Iterator iterator(this, std::move(pass));
  if (iterator.pass_->advance()) delivered(iterator.pass_->epoch(), iterator.pass_->current().number());
  return iterator;
}

void DataLoader::delivered(int64_t epoch, int64_t number) {
  epoch_ = epoch;
  batches_consumed_ = number + 1;
  if (batches_consumed_ >= size()) {
    ++epoch_;
    batches_consumed_ = 0;
  }
}

int64_t DataLoader::size() const { return loader_->batch_sampler.size(); }

void DataLoader::set_epoch(int64_t epoch) {
  EMBER_CHECK(epoch >= 0, "DataLoader::set_epoch: the epoch must not be negative, got {}", epoch);
  if (epoch == epoch_) return;
  invalidate_pass();
  epoch_ = epoch;
  batches_consumed_ = 0;
}

void DataLoader::restore(LoaderPosition position) {
  EMBER_CHECK(position.epoch >= 0 && position.batches_consumed >= 0 && position.batches_consumed <= size(),
              "DataLoader::restore: position (epoch {}, {} batches consumed) is not within an epoch of {} batches",
              position.epoch, position.batches_consumed, size());
  invalidate_pass();
  epoch_ = position.epoch;
  batches_consumed_ = position.batches_consumed;
  if (batches_consumed_ == size() && size() > 0) {
    ++epoch_;
    batches_consumed_ = 0;
  }
}

const std::vector<Field>& DataLoader::fields() const { return loader_->output_fields; }
const Dataset& DataLoader::dataset() const { return *loader_->dataset; }
const Sampler& DataLoader::sampler() const { return *loader_->sampler; }
bool DataLoader::pins_memory() const { return loader_->pinned; }

// ---- Iterator ----

DataLoader::Iterator& DataLoader::Iterator::operator=(Iterator&& other) noexcept {
  if (this != &other) {
    if (pass_) pass_->shutdown();
    loader_ = other.loader_;
    pass_ = std::move(other.pass_);
  }
  return *this;
}

DataLoader::Iterator::~Iterator() {
  if (pass_) pass_->shutdown();
}

void DataLoader::Iterator::check_valid() const {
  EMBER_CHECK(pass_ != nullptr, "DataLoader::Iterator: the iterator was moved from");
  EMBER_CHECK(pass_->valid,
              "DataLoader::Iterator: the iterator is no longer valid (its loader started another pass, changed "
              "epoch, restored a position or was destroyed)");
}

const Batch& DataLoader::Iterator::operator*() const {
  check_valid();
  EMBER_CHECK(!pass_->finished(), "DataLoader::Iterator: the iterator is at the end of the epoch");
  return pass_->current();
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  check_valid();
  if (pass_->advance()) loader_->delivered(pass_->epoch(), pass_->current().number());
  return *this;
}

bool DataLoader::Iterator::operator==(std::default_sentinel_t) const {
  return pass_ == nullptr || (pass_->valid && pass_->finished());
}

}  // namespace ember::io
