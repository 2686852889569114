#pragma once
// Damages one stored chunk of a dataset in an HDF5 file: its bytes become zeros, which no zlib
// stream starts with, so inflating it fails. Returns the first row the chunk holds along axis 0
// (-1 when HDF5 could not say where the chunk is).
#include <hdf5.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace ember::io {

inline int64_t zero_stored_chunk(const std::string& path, const char* dataset_name, hsize_t chunk_index) {
  haddr_t address = 0;
  hsize_t stored_size = 0;
  hsize_t offset[H5S_MAX_RANK] = {};
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t dataset = H5Dopen2(file, dataset_name, H5P_DEFAULT);
  const hid_t space = H5Dget_space(dataset);
  unsigned mask = 0;
  const herr_t status = H5Dget_chunk_info(dataset, space, chunk_index, offset, &mask, &address, &stored_size);
  H5Sclose(space);
  H5Dclose(dataset);
  H5Fclose(file);
  if (status < 0) return -1;
  std::fstream stream(path, std::ios::in | std::ios::out | std::ios::binary);
  stream.seekp(static_cast<std::streamoff>(address));
  const std::vector<char> zeros(stored_size, '\0');
  stream.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  return static_cast<int64_t>(offset[0]);
}

}  // namespace ember::io
