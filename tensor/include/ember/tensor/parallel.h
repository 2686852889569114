#pragma once
// Intra-op CPU parallelism (OpenMP). The thread count comes from EMBER_NUM_THREADS, else
// OMP_NUM_THREADS, else the number of cores.
namespace ember {

int num_threads();
void set_num_threads(int threads);

}  // namespace ember
