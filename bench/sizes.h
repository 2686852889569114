#pragma once
// The problem sizes both benchmark executables measure, so their rows compare like with like.
#include <cstdint>

namespace ember::bench {

inline constexpr int64_t kGemmSize = 1024;                       // m = n = k
inline constexpr int64_t kElementwiseCount = int64_t{32} << 20;  // 32M float32 per operand
inline constexpr int64_t kSoftmaxRows = 4096, kSoftmaxColumns = 1024;
inline constexpr int64_t kSmallSide = 4;                         // the 4x4 add that measures per-op cost
inline constexpr int kThreads = 2;

// The training steps: an MLP 784-1024-1024-10 at batch 128, and a CNN
// conv(1->32,5x5,pad 2)-relu-maxpool-conv(32->64,5x5,pad 2)-relu-maxpool-linear(3136->1024)-relu-
// linear(1024->10) at batch 64, each a forward, backward and SGD-with-momentum step.
inline constexpr int64_t kMlpBatch = 128;
inline constexpr int64_t kMlpSizes[4] = {784, 1024, 1024, 10};
inline constexpr int64_t kCnnBatch = 64;

inline constexpr double kGemmFlops = 2.0 * kGemmSize * kGemmSize * kGemmSize;
// Elementwise add reads two operands and writes one (write-allocate traffic not counted, as STREAM does).
inline constexpr double kAddBytes = 3.0 * 4.0 * kElementwiseCount;
// A copy reads one operand and writes one.
inline constexpr double kCopyBytes = 2.0 * 4.0 * kElementwiseCount;
// A step's flops, counted as the issue counts them: three times the forward GEMM/convolution
// flops (forward, input gradient, weight gradient). The first layer's input gradient is not
// actually needed, so the real work is a little less (MLP: 1.22 GFLOP of these 1.43).
inline constexpr double kMlpStepFlops =
    3.0 * 2.0 * kMlpBatch * (784.0 * 1024 + 1024.0 * 1024 + 1024.0 * 10);
inline constexpr double kCnnStepFlops =
    3.0 * 2.0 * kCnnBatch * (32.0 * 25 * 28 * 28 + 64.0 * 800 * 14 * 14 + 3136.0 * 1024 + 1024.0 * 10);
// Softmax reads the input and writes the output once each at minimum.
inline constexpr double kSoftmaxBytes = 2.0 * 4.0 * kSoftmaxRows * kSoftmaxColumns;

}  // namespace ember::bench
