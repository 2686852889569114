#pragma once
#include <string>

namespace ember {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  constexpr Device() = default;
  constexpr Device(DeviceType device_type, int device_index = 0) : type(device_type), index(device_index) {}
  // "cpu", "cuda", "cuda:1"
  explicit Device(const std::string& spec);

  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  constexpr bool operator==(const Device&) const = default;
  // "cpu" or "cuda:0"
  std::string str() const;
};

inline constexpr Device kCPU{DeviceType::CPU, 0};
inline constexpr Device kCUDA{DeviceType::CUDA, 0};

// True when Ember was built with CUDA and a device is present.
bool cuda_is_available();
int cuda_device_count();
// Why cuda_is_available() is false ("built without CUDA", "no CUDA device: ..."), empty when true.
std::string cuda_unavailable_reason();

}  // namespace ember
