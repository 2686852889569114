#pragma once
// Dataset: what the DataLoader reads from. A dataset is a fixed number of samples, each made of
// named fields ("images": uint8 [1, 28, 28], "labels": int64 []). Reads take many samples at
// once so that a file-backed dataset can coalesce them into few I/O calls.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember::io {

// One field of every sample: its name, element type and per-sample shape ([] for a scalar).
struct Field {
  std::string name;
  DType dtype = kFloat32;
  DimVector sample_shape;
};

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  virtual const std::vector<Field>& fields() const = 0;

  // The samples at `indices`, each in [0, size()): one tensor per field, in fields() order,
  // shaped [indices.size(), sample_shape...], contiguous, CPU, row i holding sample indices[i].
  // The indices ascend without repeats unless reads_any_order() is true. Called from several
  // loader threads at once, so implementations must be thread-safe. A failure throws
  // ember::Error naming the file, the field and the sample index.
  virtual std::vector<Tensor> read(std::span<const int64_t> indices) const = 0;

  // True when read() accepts indices in any order, repeats included. A dataset that gathers rows
  // from memory says so: the loader then reads a batch's indices as the sampler gave them and
  // uses the result as the batch itself, with no sort and no reordering copy. False (the
  // default) keeps the sorted contract, which lets a file-backed dataset coalesce rows into few
  // reads. The answer must not change during a dataset's life.
  virtual bool reads_any_order() const { return false; }

  // The position of a field in fields(); throws naming the dataset's fields when absent.
  size_t field_index(const std::string& name) const;
};

// A dataset held in memory: tensors of equal length along axis 0, one per field. For tests,
// small data and data produced by the program itself.
class TensorDataset : public Dataset {
 public:
  // names[i] names tensors[i]; every tensor has the same size(0).
  TensorDataset(std::vector<std::string> names, std::vector<Tensor> tensors);

  int64_t size() const override { return size_; }
  const std::vector<Field>& fields() const override { return fields_; }
  // Any order and repeats: rows are gathered from memory.
  std::vector<Tensor> read(std::span<const int64_t> indices) const override;
  bool reads_any_order() const override { return true; }

 private:
  std::vector<Field> fields_;
  std::vector<Tensor> tensors_;
  int64_t size_ = 0;
};

}  // namespace ember::io
