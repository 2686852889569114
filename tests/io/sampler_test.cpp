#include "ember/io/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string>

#include "ember/tensor/error.h"
#include "support/fixture.h"

namespace ember::io {
namespace {

using ember::testing::Fixture;

// One group of samplers.h5 (written by tests/io/fixtures/generate_samplers.py): a table of cases
// whose columns are named by the group's "columns" attribute, and the flat index lists the cases
// point into with their offset and length columns.
class CaseTable {
 public:
  CaseTable(const Fixture& fixture, const std::string& group) : group_(group) {
    std::stringstream names(fixture.text(group + "@columns"));
    for (std::string name; std::getline(names, name, ',');) column_[name] = column_.size();
    const Tensor cases = fixture.tensor(group + "/cases");
    EXPECT_EQ(cases.dim(), 2) << group;
    EXPECT_EQ(cases.size(1), static_cast<int64_t>(column_.size())) << group;
    rows_ = cases.size(0);
    cells_ = cases.to_vector<int64_t>();
    if (column_.count("offset") != 0) values_ = fixture.tensor(group + "/indices").to_vector<int64_t>();
  }

  int64_t rows() const { return rows_; }
  int64_t at(int64_t row, const std::string& column) const {
    const auto found = column_.find(column);
    if (found == column_.end()) fail("{}: no column '{}'", group_, column);
    return cells_[static_cast<size_t>(row) * column_.size() + found->second];
  }
  uint64_t seed(int64_t row) const { return static_cast<uint64_t>(at(row, "seed")); }
  std::vector<int64_t> indices(int64_t row) const { return slice(values_, at(row, "offset"), at(row, "length")); }

  static std::vector<int64_t> slice(const std::vector<int64_t>& values, int64_t offset, int64_t length) {
    return std::vector<int64_t>(values.begin() + offset, values.begin() + offset + length);
  }

 private:
  std::string group_;
  std::map<std::string, size_t> column_;
  int64_t rows_ = 0;
  std::vector<int64_t> cells_;
  std::vector<int64_t> values_;
};

// The digest generate_samplers.py stores for permutations too large to store.
uint64_t digest(const std::vector<int64_t>& permutation) {
  const uint64_t multiplier = 0x9E3779B97F4A7C15ULL;
  uint64_t power = 1;
  uint64_t sum = 0;
  for (int64_t value : permutation) {
    power *= multiplier;
    sum += static_cast<uint64_t>(value) * power;
  }
  return sum;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> values(static_cast<size_t>(n));
  std::iota(values.begin(), values.end(), int64_t{0});
  return values;
}

// Runs `make` and expects an ember::Error whose message contains `text`.
template <class Make>
void expect_error(Make&& make, const std::string& text) {
  try {
    make();
    ADD_FAILURE() << "no ember::Error; expected one mentioning '" << text << "'";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
  }
}

TEST(SamplerParity, RandpermMatchesTorch) {
  const CaseTable table(Fixture("samplers.h5"), "randperm");
  ASSERT_GT(table.rows(), 90);
  for (int64_t row = 0; row < table.rows(); ++row) {
    const int64_t n = table.at(row, "dataset_size");
    ASSERT_EQ(randperm_like_torch(n, table.seed(row)), table.indices(row)) << "n " << n << " seed " << table.seed(row);
  }
}

TEST(SamplerParity, RandpermMatchesTorchForLargeN) {
  const CaseTable table(Fixture("samplers.h5"), "randperm_digest");
  ASSERT_GE(table.rows(), 10);
  for (int64_t row = 0; row < table.rows(); ++row) {
    const int64_t n = table.at(row, "dataset_size");
    EXPECT_EQ(digest(randperm_like_torch(n, table.seed(row))), static_cast<uint64_t>(table.at(row, "digest")))
        << "n " << n << " seed " << table.seed(row);
  }
}

TEST(SamplerParity, RandomSamplerMatchesTorch) {
  const CaseTable table(Fixture("samplers.h5"), "random");
  ASSERT_GT(table.rows(), 50);
  for (int64_t row = 0; row < table.rows(); ++row) {
    const RandomSampler sampler(table.at(row, "dataset_size"), table.seed(row));
    const int64_t epoch = table.at(row, "epoch");
    ASSERT_EQ(sampler.indices(epoch), table.indices(row)) << "row " << row << " epoch " << epoch;
    ASSERT_EQ(sampler.size(), table.at(row, "length"));
  }
}

TEST(SamplerParity, DistributedSamplerMatchesTorch) {
  const CaseTable table(Fixture("samplers.h5"), "distributed");
  ASSERT_GT(table.rows(), 5000);
  for (int64_t row = 0; row < table.rows(); ++row) {
    DistributedSamplerOptions options;
    options.num_replicas = table.at(row, "num_replicas");
    options.rank = table.at(row, "rank");
    options.shuffle = table.at(row, "shuffle") != 0;
    options.drop_last = table.at(row, "drop_last") != 0;
    options.seed = table.seed(row);
    const DistributedSampler sampler(table.at(row, "dataset_size"), options);
    const int64_t epoch = table.at(row, "epoch");
    const std::string context = fmt::format("n {} replicas {} rank {} shuffle {} drop_last {} seed {} epoch {}",
                                            table.at(row, "dataset_size"), options.num_replicas, options.rank,
                                            options.shuffle, options.drop_last, options.seed, epoch);
    ASSERT_EQ(sampler.size(), table.at(row, "size")) << context;
    ASSERT_EQ(sampler.indices(epoch), table.indices(row)) << context;
  }
}

TEST(SamplerParity, BatchSamplerMatchesTorch) {
  const Fixture fixture("samplers.h5");
  const CaseTable table(fixture, "batch");
  const std::vector<int64_t> lengths = fixture.tensor("batch/batch_lengths").to_vector<int64_t>();
  ASSERT_GT(table.rows(), 100);
  for (int64_t row = 0; row < table.rows(); ++row) {
    const int64_t n = table.at(row, "dataset_size");
    std::shared_ptr<const Sampler> inner;
    if (table.at(row, "shuffle") != 0) {
      inner = std::make_shared<RandomSampler>(n, table.seed(row));
    } else {
      inner = std::make_shared<SequentialSampler>(n);
    }
    const BatchSampler sampler(inner, table.at(row, "batch_size"), table.at(row, "drop_last") != 0);
    const std::vector<int64_t> expected = table.indices(row);
    const std::vector<int64_t> expected_lengths =
        CaseTable::slice(lengths, table.at(row, "batch_offset"), table.at(row, "batch_count"));
    std::vector<int64_t> actual;
    std::vector<int64_t> actual_lengths;
    for (const std::vector<int64_t>& batch : sampler.batches(0)) {
      actual.insert(actual.end(), batch.begin(), batch.end());
      actual_lengths.push_back(static_cast<int64_t>(batch.size()));
    }
    const std::string context = fmt::format("n {} batch_size {} drop_last {} shuffle {}", n, sampler.batch_size(),
                                            sampler.drop_last(), table.at(row, "shuffle"));
    ASSERT_EQ(sampler.size(), table.at(row, "size")) << context;
    ASSERT_EQ(actual_lengths, expected_lengths) << context;
    ASSERT_EQ(actual, expected) << context;
  }
}

TEST(SamplerRandperm, IsAPermutationAndUsesTheLow32BitsOfTheSeed) {
  for (int64_t n : {0, 1, 2, 9, 1000}) {
    std::vector<int64_t> sorted = randperm_like_torch(n, 123);
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, iota(n)) << n;
  }
  // PyTorch's Mersenne Twister takes a 32-bit seed: higher bits are dropped.
  EXPECT_EQ(randperm_like_torch(50, (uint64_t{1} << 32) + 7), randperm_like_torch(50, 7));
  EXPECT_NE(randperm_like_torch(50, 8), randperm_like_torch(50, 7));
}

TEST(SamplerSequential, VisitsEverySampleInOrderEveryEpoch) {
  const SequentialSampler sampler(5);
  EXPECT_EQ(sampler.size(), 5);
  EXPECT_EQ(sampler.indices(0), iota(5));
  EXPECT_EQ(sampler.indices(3), iota(5));
  EXPECT_TRUE(SequentialSampler(0).indices(0).empty());
}

TEST(SamplerRandom, EpochsAreSeededBySeedPlusEpoch) {
  const RandomSampler sampler(100, 40);
  EXPECT_EQ(sampler.indices(2), randperm_like_torch(100, 42));
  EXPECT_EQ(sampler.indices(2), RandomSampler(100, 41).indices(1));
  // A negative epoch wraps like PyTorch's two's-complement seed: 40 - 41 is seed 2^64 - 1.
  EXPECT_EQ(sampler.indices(-41), randperm_like_torch(100, ~uint64_t{0}));
  std::set<std::vector<int64_t>> orders;
  for (int64_t epoch = 0; epoch < 5; ++epoch) orders.insert(sampler.indices(epoch));
  EXPECT_EQ(orders.size(), 5u) << "two epochs visited the samples in the same order";
}

// Interleaving the ranks' lists (rank r at positions r, r + R, ...) rebuilds the epoch's order,
// padded by repeating it from the start, or cut when drop_last.
TEST(SamplerDistributed, RanksPartitionThePaddedOrder) {
  for (int64_t n : {0, 1, 3, 10, 11, 64, 101}) {
    for (int64_t replicas : {1, 2, 3, 4, 7, 16}) {
      for (bool shuffle : {false, true}) {
        for (bool drop_last : {false, true}) {
          const std::vector<int64_t> order = shuffle ? randperm_like_torch(n, 9 + 2) : iota(n);
          std::vector<std::vector<int64_t>> lists;
          for (int64_t rank = 0; rank < replicas; ++rank) {
            const DistributedSampler sampler(n, {replicas, rank, shuffle, 9, drop_last});
            lists.push_back(sampler.indices(2));
            ASSERT_EQ(static_cast<int64_t>(lists.back().size()), sampler.size());
            ASSERT_EQ(sampler.size(), static_cast<int64_t>(lists.front().size())) << "ranks got different numbers of samples";
          }
          const int64_t total = replicas * static_cast<int64_t>(lists.front().size());
          const std::string context =
              fmt::format("n {} replicas {} shuffle {} drop_last {}", n, replicas, shuffle, drop_last);
          ASSERT_EQ(total, drop_last ? n / replicas * replicas : (n + replicas - 1) / replicas * replicas) << context;
          std::set<int64_t> seen;
          for (int64_t position = 0; position < total; ++position) {
            const int64_t index = lists[position % replicas][position / replicas];
            ASSERT_EQ(index, order[position % n]) << context << " position " << position;
            seen.insert(index);
          }
          if (drop_last) {
            EXPECT_EQ(static_cast<int64_t>(seen.size()), total) << context << ": a sample was visited twice";
          } else {
            EXPECT_EQ(static_cast<int64_t>(seen.size()), n) << context << ": a sample was never visited";
          }
        }
      }
    }
  }
}

TEST(SamplerDistributed, OrderDependsOnSeedAndEpochOnly) {
  const DistributedSamplerOptions options{4, 1, true, 2024, false};
  const DistributedSampler first(1001, options);
  const DistributedSampler second(1001, options);
  for (int64_t epoch = 0; epoch < 3; ++epoch) EXPECT_EQ(first.indices(epoch), second.indices(epoch));
  DistributedSamplerOptions shifted = options;
  shifted.seed = 2023;
  EXPECT_EQ(DistributedSampler(1001, shifted).indices(1), first.indices(0));
  std::set<std::vector<int64_t>> orders;
  for (int64_t epoch = 0; epoch < 5; ++epoch) orders.insert(first.indices(epoch));
  EXPECT_EQ(orders.size(), 5u) << "two epochs visited the samples in the same order";
  DistributedSamplerOptions fixed = options;
  fixed.shuffle = false;
  EXPECT_EQ(DistributedSampler(1001, fixed).indices(0), DistributedSampler(1001, fixed).indices(7));
}

TEST(SamplerDistributed, EmptyDatasetGivesEveryRankNothing) {
  for (bool drop_last : {false, true}) {
    const DistributedSampler sampler(0, {3, 2, true, 0, drop_last});
    EXPECT_EQ(sampler.size(), 0);
    EXPECT_TRUE(sampler.indices(0).empty());
    const BatchSampler batches(std::make_shared<DistributedSampler>(0, DistributedSamplerOptions{3, 2}), 4);
    EXPECT_EQ(batches.size(), 0);
    EXPECT_TRUE(batches.batches(1).empty());
  }
}

TEST(SamplerBatch, SizeCountsTheBatchesOfAnEpoch) {
  for (int64_t n : {0, 1, 7, 8, 9, 64}) {
    for (int64_t batch_size : {1, 2, 8, 100}) {
      for (bool drop_last : {false, true}) {
        const BatchSampler sampler(std::make_shared<DistributedSampler>(n, DistributedSamplerOptions{2, 1}), batch_size,
                                   drop_last);
        const std::vector<std::vector<int64_t>> batches = sampler.batches(3);
        ASSERT_EQ(sampler.size(), static_cast<int64_t>(batches.size())) << n << " " << batch_size << " " << drop_last;
        std::vector<int64_t> joined;
        for (const auto& batch : batches) {
          ASSERT_TRUE(!batch.empty() && static_cast<int64_t>(batch.size()) <= batch_size);
          if (drop_last) ASSERT_EQ(static_cast<int64_t>(batch.size()), batch_size);
          joined.insert(joined.end(), batch.begin(), batch.end());
        }
        std::vector<int64_t> expected = sampler.sampler().indices(3);
        if (drop_last) expected.resize(expected.size() / batch_size * batch_size);
        ASSERT_EQ(joined, expected);
      }
    }
  }
}

TEST(SamplerErrors, BadInputIsAClearError) {
  expect_error([] { randperm_like_torch(-1, 0); }, "n must be >= 0, got -1");
  expect_error([] { SequentialSampler(-2); }, "dataset size must be >= 0, got -2");
  expect_error([] { RandomSampler(-3, 0); }, "dataset size must be >= 0, got -3");
  expect_error([] { RandomSampler(0, 0); }, "RandomSampler: the dataset is empty");
  expect_error([] { DistributedSampler(-1, {}); }, "dataset size must be >= 0, got -1");
  expect_error([] { DistributedSampler(10, {0, 0}); }, "num_replicas must be >= 1, got 0");
  expect_error([] { DistributedSampler(10, {-2, 0}); }, "num_replicas must be >= 1, got -2");
  expect_error([] { DistributedSampler(10, {4, 4}); }, "rank 4 is outside [0, 4)");
  expect_error([] { DistributedSampler(10, {4, -1}); }, "rank -1 is outside [0, 4)");
  const auto inner = std::make_shared<SequentialSampler>(10);
  expect_error([&] { BatchSampler(inner, 0); }, "batch_size must be >= 1, got 0");
  expect_error([&] { BatchSampler(inner, -5, true); }, "batch_size must be >= 1, got -5");
  expect_error([] { BatchSampler(nullptr, 4); }, "BatchSampler: the sampler is null");
}

}  // namespace
}  // namespace ember::io
