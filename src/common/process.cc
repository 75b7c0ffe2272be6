#include "lssd/process.h"

#include <malloc.h>

namespace lssd {

void tune_allocator() {
  mallopt(M_MMAP_THRESHOLD, 512 << 20);  // allocations up to 512 MB from the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);    // keep up to 1 GB of freed heap for reuse
}

}  // namespace lssd
