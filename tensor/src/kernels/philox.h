#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator, so element i of a draw is computed independently of every other.
#include <cmath>
#include <cstdint>

#include "ember/tensor/macros.h"

namespace ember::kernels {

struct PhiloxOutput {
  uint32_t word[4];
};

EMBER_INLINE uint32_t mul_high(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
}

EMBER_INLINE PhiloxOutput philox(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint32_t high0 = mul_high(0xD2511F53u, c0), low0 = 0xD2511F53u * c0;
    const uint32_t high1 = mul_high(0xCD9E8D57u, c2), low1 = 0xCD9E8D57u * c2;
    c0 = high1 ^ c1 ^ k0;
    c1 = low1;
    c2 = high0 ^ c3 ^ k1;
    c3 = low0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 53 random bits.
EMBER_INLINE double uniform_double(const PhiloxOutput& bits) {
  const uint64_t combined = (static_cast<uint64_t>(bits.word[0]) << 21) ^ (bits.word[1] >> 11);
  return static_cast<double>(combined & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Standard normal by Box-Muller from words 2 and 3.
EMBER_INLINE double normal_double(const PhiloxOutput& bits) {
  const double u1 = (static_cast<double>(bits.word[2]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
  const double u2 = static_cast<double>(bits.word[3]) * (1.0 / 4294967296.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace ember::kernels
