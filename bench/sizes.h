#pragma once
// The problem sizes both benchmark executables measure, so their rows compare like with like.
#include <cstdint>

namespace ember::bench {

inline constexpr int64_t kGemmSize = 1024;                       // m = n = k
inline constexpr int64_t kElementwiseCount = int64_t{32} << 20;  // 32M float32 per operand
inline constexpr int64_t kSoftmaxRows = 4096, kSoftmaxColumns = 1024;
inline constexpr int64_t kSmallSide = 4;                         // the 4x4 add that measures per-op cost
inline constexpr int kThreads = 2;

inline constexpr double kGemmFlops = 2.0 * kGemmSize * kGemmSize * kGemmSize;
// Elementwise add reads two operands and writes one (write-allocate traffic not counted, as STREAM does).
inline constexpr double kAddBytes = 3.0 * 4.0 * kElementwiseCount;
// A copy reads one operand and writes one.
inline constexpr double kCopyBytes = 2.0 * 4.0 * kElementwiseCount;
// Softmax reads the input and writes the output once each at minimum.
inline constexpr double kSoftmaxBytes = 2.0 * 4.0 * kSoftmaxRows * kSoftmaxColumns;

}  // namespace ember::bench
