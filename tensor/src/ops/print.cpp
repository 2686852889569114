// Printing, laid out as PyTorch 1.13's repr (torch/_tensor_str.py with its default options) so
// that a tensor reads the same in Ember as in Python: one width for every element, fixed or
// scientific notation chosen from the values shown, and edges only past 1000 elements.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "ember/tensor/tensor.h"

namespace ember {
namespace {

constexpr int kPrecision = 4;
constexpr int64_t kThreshold = 1000;  // more elements than this are summarised
constexpr int64_t kEdgeItems = 3;
constexpr int64_t kLineWidth = 80;

// One element read from the host copy: floating values as double (exact for every dtype),
// integers as int64, bools as such.
struct Element {
  double number = 0.0;
  int64_t integer = 0;
};

class Formatter {
 public:
  Formatter(DType dtype, const std::vector<Element>& shown)
      : floating_(is_floating_point(dtype)), bool_(dtype == kBool) {
    if (!floating_) {
      for (const Element& element : shown) width_ = std::max(width_, static_cast<int>(integer_text(element).size()));
      return;
    }
    std::vector<double> finite;  // nonzero finite values decide the notation
    for (const Element& element : shown) {
      if (std::isfinite(element.number) && element.number != 0.0) finite.push_back(element.number);
    }
    if (finite.empty()) return;
    double smallest = std::abs(finite.front()), largest = smallest;
    for (double value : finite) {
      smallest = std::min(smallest, std::abs(value));
      largest = std::max(largest, std::abs(value));
      integral_ = integral_ && value == std::ceil(value);
    }
    const bool wide_range = largest / smallest > 1000.0 || largest > 1.0e8;
    scientific_ = integral_ ? wide_range : wide_range || smallest < 1.0e-4;
    for (double value : finite) {
      const int length = scientific_ ? static_cast<int>(fmt::format("{:.{}e}", value, kPrecision).size())
                         : integral_ ? static_cast<int>(fmt::format("{:.0f}", value).size()) + 1
                                     : static_cast<int>(fmt::format("{:.{}f}", value, kPrecision).size());
      width_ = std::max(width_, length);
    }
  }

  int width() const { return width_; }

  std::string format(const Element& element) const {
    std::string text = floating_ ? floating_text(element.number) : integer_text(element);
    if (static_cast<int>(text.size()) < width_) text.insert(0, static_cast<size_t>(width_) - text.size(), ' ');
    return text;
  }

 private:
  std::string integer_text(const Element& element) const {
    if (bool_) return element.integer != 0 ? "True" : "False";
    return std::to_string(element.integer);
  }

  std::string floating_text(double value) const {
    if (std::isnan(value)) return "nan";  // Python never prints a sign on nan
    if (scientific_) return fmt::format("{:.{}e}", value, kPrecision);
    if (integral_) return fmt::format("{:.0f}", value) + (std::isinf(value) ? "" : ".");
    return fmt::format("{:.{}f}", value, kPrecision);
  }

  bool floating_;
  bool bool_;
  bool integral_ = true;
  bool scientific_ = false;
  int width_ = 1;
};

class Printer {
 public:
  explicit Printer(const Tensor& host)
      : host_(host), summarize_(host.numel() > kThreshold), base_(static_cast<const char*>(host.data_ptr())) {}

  std::string body(int indent) const {
    std::vector<Element> shown;
    visit_shown(0, 0, [&](int64_t offset) { shown.push_back(read(offset)); });
    const Formatter formatter(host_.dtype(), shown);
    if (host_.dim() == 0) return formatter.format(read(0));
    return block(0, 0, indent, formatter);
  }

 private:
  // The positions along a dim that are shown, with -1 where the "..." goes.
  std::vector<int64_t> shown_rows(int64_t size) const {
    std::vector<int64_t> rows;
    if (summarize_ && size > 2 * kEdgeItems) {
      for (int64_t i = 0; i < kEdgeItems; ++i) rows.push_back(i);
      rows.push_back(-1);
      for (int64_t i = size - kEdgeItems; i < size; ++i) rows.push_back(i);
    } else {
      for (int64_t i = 0; i < size; ++i) rows.push_back(i);
    }
    return rows;
  }

  template <class Visit>
  void visit_shown(int64_t dim, int64_t offset, const Visit& visit) const {
    if (dim == host_.dim()) return visit(offset);
    for (int64_t row : shown_rows(host_.size(dim))) {
      if (row >= 0) visit_shown(dim + 1, offset + row * host_.stride(dim), visit);
    }
  }

  Element read(int64_t offset) const {
    return visit_dtype(host_.dtype(), [&]<class T>(TypeTag<T>) {
      const T value = reinterpret_cast<const T*>(base_)[offset];
      Element element;
      if constexpr (is_floating_v<T>) element.number = static_cast<double>(static_cast<compute_t<T>>(value));
      else element.integer = static_cast<int64_t>(value);
      return element;
    });
  }

  std::string block(int64_t dim, int64_t offset, int indent, const Formatter& formatter) const {
    const std::vector<int64_t> rows = shown_rows(host_.size(dim));
    if (dim + 1 == host_.dim()) return vector(rows, offset, indent, formatter);
    std::string separator = ",";
    separator.append(static_cast<size_t>(host_.dim() - dim - 1), '\n').append(static_cast<size_t>(indent + 1), ' ');
    std::string text = "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i > 0) text += separator;
      text += rows[i] < 0 ? "..." : block(dim + 1, offset + rows[i] * host_.stride(dim), indent + 1, formatter);
    }
    return text + "]";
  }

  std::string vector(const std::vector<int64_t>& rows, int64_t offset, int indent, const Formatter& formatter) const {
    const int64_t stride = host_.stride(host_.dim() - 1);
    const int64_t per_line = std::max<int64_t>(1, (kLineWidth - indent) / (formatter.width() + 2));
    std::string line_break = ",\n";
    line_break.append(static_cast<size_t>(indent + 1), ' ');
    std::string text = "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i > 0) text += static_cast<int64_t>(i) % per_line == 0 ? line_break : ", ";
      text += rows[i] < 0 ? " ..." : formatter.format(read(offset + rows[i] * stride));
    }
    return text + "]";
  }

  Tensor host_;
  bool summarize_;
  const char* base_;
};

// Python's str(tuple): "(0, 3)", "(0,)".
std::string tuple_string(IntArrayRef sizes) {
  return fmt::format("({}{})", fmt::join(sizes, ", "), sizes.size() == 1 ? "," : "");
}

// Appends ", suffix" to the last line, or starts a new line when it would pass the line width.
std::string with_suffixes(std::string text, const std::vector<std::string>& suffixes, int indent) {
  const size_t last_newline = text.rfind('\n');
  int64_t last_line = static_cast<int64_t>(text.size()) -
                      (last_newline == std::string::npos ? -1 : static_cast<int64_t>(last_newline)) + 1;
  for (const std::string& suffix : suffixes) {
    const int64_t length = static_cast<int64_t>(suffix.size());
    if (last_line + length + 2 > kLineWidth) {
      text.append(",\n").append(static_cast<size_t>(indent), ' ').append(suffix);
      last_line = indent + length;
    } else {
      text.append(", ").append(suffix);
      last_line += length + 2;
    }
  }
  return text + ")";
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  const std::string prefix = "tensor(";
  const int indent = static_cast<int>(prefix.size());
  std::vector<std::string> suffixes;
  if (is_cuda()) suffixes.push_back(fmt::format("device='{}'", device().str()));
  const std::string dtype_suffix = fmt::format("dtype=torch.{}", name(dtype()));
  if (numel() == 0) {
    // No element shows the dtype, so anything but the default float32 is named.
    if (dim() != 1) suffixes.push_back("size=" + tuple_string(sizes()));
    if (dtype() != kFloat32) suffixes.push_back(dtype_suffix);
    return with_suffixes(prefix + "[]", suffixes, indent);
  }
  if (dtype() != kFloat32 && dtype() != kInt64 && dtype() != kBool) suffixes.push_back(dtype_suffix);
  return with_suffixes(prefix + Printer(cpu()).body(indent), suffixes, indent);
}

std::ostream& operator<<(std::ostream& stream, const Tensor& tensor) { return stream << tensor.to_string(); }

void print(const Tensor& tensor) { std::cout << tensor.to_string() << '\n'; }

}  // namespace ember
