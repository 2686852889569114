// The data pipeline's benchmarks (issue 4), run by bench/run.sh beside the compute ones:
//   io/raw_read/<data>            one H5Dread per shard and field of every byte: the rate to beat
//   io/loader/<data>/workers:<w>  a shuffled epoch through DataLoader + ShardedDataset with its
//                                 default options: both shapes fit the default preload budget
//                                 (47 MB and 154 MB), so the samples come from memory
//   io/loader_streamed/...        the same with preloading off: rows copied from the mapped files
//   io/train_wait                 a real training loop fed by the loader: the share of the step
//                                 time spent waiting for the next batch (counter wait_percent)
// Samples per second are reported as the `work` counter (samples per iteration). The shard files
// are written once into a temporary directory and removed at exit; the first read warms the page
// cache, so both rows read from memory, as a training job's second epoch does.
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "ember/ember.h"
#include "ember/io/data_loader.h"

namespace ember::bench {
namespace {

struct DataShape {
  const char* name;
  int64_t samples;
  DimVector sample_shape;
  int64_t batch_size;
};

// Fashion-MNIST's shape and count, and ImageNet-sized crops (150 KB each).
const DataShape kMnist{"mnist", 60000, {1, 28, 28}, 64};
const DataShape kLarge{"large", 1024, {3, 224, 224}, 32};

class BenchData {
 public:
  BenchData() {
    std::random_device device;
    directory_ = std::filesystem::temp_directory_path() / ("ember-io-bench-" + std::to_string(device()));
    std::filesystem::create_directories(directory_);
  }
  ~BenchData() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  // The shard paths of a data shape (two shards), written on first use.
  const std::vector<std::string>& shards(const DataShape& shape) {
    auto& paths = written_[shape.name];
    if (paths.empty()) {
      DimVector image_shape{shape.samples};
      image_shape.insert(image_shape.end(), shape.sample_shape.begin(), shape.sample_shape.end());
      const Tensor images = randint(0, 256, image_shape, kUInt8);
      const Tensor labels = randint(0, 10, {shape.samples}, kInt64);
      io::ShardWriterOptions options;
      options.shards = 2;
      paths = io::write_shards((directory_ / shape.name).string(), {"images", "labels"}, {images, labels}, options);
    }
    return paths;
  }

 private:
  std::filesystem::path directory_;
  std::map<std::string, std::vector<std::string>> written_;
};

BenchData& data() {
  static BenchData instance;
  return instance;
}

void raw_read(benchmark::State& state, const DataShape& shape) {
  const auto& paths = data().shards(shape);
  std::vector<io::Hdf5File> files;
  for (const std::string& path : paths) files.emplace_back(path, io::FileMode::Read);
  std::vector<Tensor> buffers;
  for (const auto& file : files) {
    for (const char* field : {"images", "labels"}) buffers.push_back(empty(file.info(field).shape, file.info(field).dtype));
  }
  for (auto _ : state) {
    size_t buffer = 0;
    for (const auto& file : files) {
      for (const char* field : {"images", "labels"}) {
        // No chunk cache: HDF5 then reads uncompressed chunks straight into the buffer.
        const io::Hdf5Dataset dataset = file.dataset(field, io::DatasetAccess{.chunk_cache_bytes = 0});
        dataset.read_rows(0, dataset.rows(), buffers[buffer++].data_ptr());
      }
    }
    benchmark::ClobberMemory();
  }
  state.counters["work"] = static_cast<double>(shape.samples);
}

void loader_epoch(benchmark::State& state, const DataShape& shape, int64_t workers, bool streamed) {
  set_num_threads(1);
  io::ShardedDatasetOptions options;
  if (streamed) options.preload_bytes = 0;
  auto dataset = std::make_shared<io::ShardedDataset>(data().shards(shape), options);
  if (dataset->preloaded() == streamed) state.SkipWithError("the dataset is not read from where the row says");
  io::DataLoader loader(dataset, io::DataLoaderOptions()
                                     .batch_size(shape.batch_size)
                                     .shuffle(true)
                                     .seed(1)
                                     .num_workers(workers));
  int64_t epoch = 0, samples = 0;
  for (auto _ : state) {
    loader.set_epoch(epoch++);
    samples = 0;
    for (const io::Batch& batch : loader) {
      samples += batch.size();
      benchmark::DoNotOptimize(batch["images"].data_ptr());
    }
  }
  state.counters["work"] = static_cast<double>(samples);
}

// The issue-3 MLP on Fashion-MNIST-shaped batches, one compute thread, one loader worker: the
// time the training thread spends in the loader's ++ against the whole step.
void train_wait(benchmark::State& state) {
  set_num_threads(1);
  manual_seed(0);
  auto dataset = std::make_shared<io::ShardedDataset>(data().shards(kMnist));
  io::DataLoader loader(dataset, io::DataLoaderOptions()
                                     .batch_size(128)
                                     .shuffle(true)
                                     .num_workers(1)
                                     .transform("images", std::make_shared<io::Normalize>(std::vector<double>{0.2860},
                                                                                          std::vector<double>{0.3530})));
  nn::Sequential model(nn::Flatten(), nn::Linear(784, 1024), nn::ReLU(), nn::Linear(1024, 1024), nn::ReLU(),
                       nn::Linear(1024, 10));
  optim::SGD optimizer(model->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  constexpr int64_t kSteps = 40;
  using Clock = std::chrono::steady_clock;
  double waiting = 0, total = 0;
  int64_t epoch = 0;
  for (auto _ : state) {
    loader.set_epoch(epoch++);
    const auto start = Clock::now();
    auto batches = loader.begin();  // the first batch's wait counts too
    waiting += std::chrono::duration<double>(Clock::now() - start).count();
    for (int64_t step = 0; step < kSteps && batches != loader.end(); ++step) {
      const io::Batch& batch = *batches;
      optimizer.zero_grad();
      Tensor loss = nn::functional::cross_entropy(model->forward(batch["images"]), batch["labels"]);
      loss.backward();
      optimizer.step();
      const auto before_next = Clock::now();
      ++batches;
      waiting += std::chrono::duration<double>(Clock::now() - before_next).count();
    }
    total += std::chrono::duration<double>(Clock::now() - start).count();
  }
  state.counters["wait_percent"] = 100.0 * waiting / total;
  state.counters["work"] = static_cast<double>(kSteps);
}

}  // namespace

void register_io_benchmarks() {
  for (const DataShape* shape : {&kMnist, &kLarge}) {
    const std::string name = shape->name;
    benchmark::RegisterBenchmark(("io/raw_read/" + name).c_str(), raw_read, *shape)->UseRealTime()->Unit(benchmark::kMillisecond);
    for (bool streamed : {false, true}) {
      for (int64_t workers : {0, 1, 2}) {
        const std::string row = std::string(streamed ? "io/loader_streamed/" : "io/loader/") + name + "/workers:" +
                                std::to_string(workers);
        benchmark::RegisterBenchmark(row.c_str(), loader_epoch, *shape, workers, streamed)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  benchmark::RegisterBenchmark("io/train_wait", train_wait)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
}

}  // namespace ember::bench

int main(int argc, char** argv) {
  ember::bench::register_io_benchmarks();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
