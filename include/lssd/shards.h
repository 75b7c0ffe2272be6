// The sharded output layout (OUTPUT.LAYOUT shards): a writing process appends the clip rows of
// its inputs to parts under OUTPUT_DIR/<video|audio>/parts/, each part a valid .npy of stacked
// rows ([R,5,W] video, [R,W] audio, the run's dtype; numpy.load(p, mmap_mode="r") opens it), and
// each input's manifest record names the part ("output"), its first row ("row") and M.
//
// A part is written under a temporary name (".tmp.@<writer>@<name>.<n>", see npy.h) and sealed
// when it holds ShardLimits::inputs inputs or ShardLimits::bytes of data, or when the run ends:
// its header is completed, its data fsynced, it is renamed to its final name, and only then are
// the records of its inputs appended to the manifest (one write, one fsync). A part being
// written is therefore never taken as done: after kill -9 a rerun computes the inputs of the
// parts that were not sealed again, and nothing else.
//
// Test hook: LSSD_TEST_SEAL_PAUSE_MS=<ms> makes every seal say "test hook: sealing <part>" on
// stderr and pause that long before the rename and again before the records are appended, so
// that a test can kill a run in the middle of a seal.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "lssd/array.h"
#include "lssd/npy.h"
#include "lssd/output.h"

namespace lssd {

// When a part is sealed: after this many inputs, or once its data reach this many bytes.
struct ShardLimits {
  int64_t inputs = 1000;        // OUTPUT.SHARD_INPUTS
  int64_t bytes = 256LL << 20;  // OUTPUT.SHARD_MB
};

// The n-th part of a writer, relative to the modality directory: "parts/<writer>.<n:06d>.npy".
std::string part_name(const std::string& writer, int64_t n);
// Whether `rel` (relative to a modality directory) names a part; *writer gets the writer id.
bool is_part_name(const std::string& rel, std::string* writer = nullptr);
// The header length every part has (the row count is rewritten in place when it is sealed).
constexpr size_t kPartHeaderBytes = 128;

// Writes one writer's parts of one modality. Thread-safe.
class ShardWriter {
 public:
  struct Options {
    std::string modality_dir;  // OUTPUT_DIR/<modality>
    std::string writer;        // the writer id: part names and temporary names carry it
    NpyDtype dtype = NpyDtype::Float32;
    ShardLimits limits;
    bool durable = true;  // false: no fsync (only for generating benchmark data)
    // Benchmark data only: the rows are not written but left as a hole (a sparse file of the
    // right size and header), and add() reads only the array's shape.
    bool holes = false;
  };
  // The records (and tags) of a sealed part, once they are in the manifest.
  using SealedFn = std::function<void(const std::vector<std::pair<Record, uint64_t>>& records)>;
  ShardWriter(Options o, JsonlAppender* manifest, SealedFn sealed = {});
  // An open part is discarded (its temporary file removed): seal() first to keep it.
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends the rows of one input (`a`: [M,5,W] or [M,W]) to the open part, opening one if none
  // is, and keeps its record until the part is sealed, completed here: output (the part), row,
  // M, shape, dtype, version. Seals the part once a limit is reached. Throws lssd::Error
  // ("output", naming the part) when the part cannot be written: the part is discarded and
  // take_lost() returns the records (and tags) of its inputs, none of which is in the manifest.
  void add(Record r, const FloatArray& a, uint64_t tag = 0);
  // Seals the open part, if any (see the top of this file). Throws as add() does.
  void seal();
  // The records a failed add() or seal() did not write.
  std::vector<std::pair<Record, uint64_t>> take_lost();
  int64_t parts_sealed() const;

 private:
  void open_part(const std::vector<int64_t>& row_shape);
  void write_buffer();
  void seal_locked();
  void discard_locked();
  [[noreturn]] void fail_locked(const std::string& what, int err);

  Options o_;
  JsonlAppender* manifest_;
  SealedFn sealed_;
  mutable std::mutex mu_;
  int fd_ = -1;
  std::string tmp_path_, final_rel_;
  std::vector<int64_t> row_shape_;  // the trailing dims of the open part ([5,W] or [W])
  int64_t rows_ = 0;                // rows in the open part
  uint64_t data_bytes_ = 0;
  std::string buffer_;  // rows not written yet
  std::vector<std::pair<Record, uint64_t>> pending_, lost_;
  int64_t next_part_ = 1, sealed_count_ = 0;
};

}  // namespace lssd
