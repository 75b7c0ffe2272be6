// DIST.MODE claim: which of the run's jobs this process computes. The jobs are cut into chunks
// of K consecutive jobs (the same cut in every process given the same inputs and K); a worker
// asks next() for a job, and ClaimWork claims chunks one after the other (lssd/claims.h),
// starting at a chunk that depends on the writer id so that processes started together spread
// out. A chunk another writer holds is left to it; when no chunk is left to try, next() waits
// for the chunks other writers hold: each ends done (nothing left here) or stale (its owner is
// gone: taken over, and what its owner recorded is not redone). Thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lssd/claims.h"

namespace lssd {

// A chunk: its claim name and its jobs still to do at the start of the run (indices into the
// run's todo list, [todo_begin, todo_end)).
struct ClaimChunk {
  std::string name;
  size_t todo_begin = 0, todo_end = 0;
};

// The chunks of `job_keys` (one text per job, in input order: modality and relative path) in
// groups of `k`, with their todo ranges: todo_job[i] is the job index of todo entry i
// (increasing). Names are "c<index>-<hash of k and the chunk's keys>", so that processes that
// see other inputs (or another K) never share a claim.
std::vector<ClaimChunk> make_chunks(const std::vector<std::string>& job_keys, size_t k,
                                    const std::vector<size_t>& todo_job);

class ClaimWork {
 public:
  struct Hooks {
    // After a chunk is claimed: which of its todo entries are still to do (the manifests read
    // again: another writer may have recorded some since this run started).
    std::function<std::vector<bool>(const ClaimChunk&)> still_to_do;
    // A todo entry this process will not compute: done by another writer.
    std::function<void(size_t entry)> done_elsewhere;
    // The run is stopping: next() returns nothing.
    std::function<bool()> stopping;
    // Messages (a chunk taken over, waiting for other writers).
    std::function<void(const std::string&)> info;
    // Nothing is left to claim and next() is about to wait for other writers: whatever this
    // process holds back must be recorded now (the shards layout seals its open parts), or the
    // writers would wait for each other.
    std::function<void()> idle;
  };
  // poll_s: how often to look at chunks other writers hold, once nothing else is left.
  ClaimWork(std::vector<ClaimChunk> chunks, ClaimBoard* board, size_t first_chunk, double poll_s, Hooks hooks);

  // The next todo entry to compute; none when every chunk is done (by this process or others)
  // or the run is stopping. Blocks while only chunks that live writers hold are left.
  std::optional<size_t> next();
  // Every record of todo entry `entry` is in the manifest: its chunk is done once all are.
  void recorded(size_t entry);
  // Renews this writer's claims (the heartbeat); a chunk another writer took over meanwhile is
  // no longer this one's: its entries not started are left to that writer.
  void renew();
  // Entries started by next().
  size_t started() const;
  // Entries done by other writers (done_elsewhere() calls).
  size_t elsewhere() const;

 private:
  enum class State { Untried, Mine, Held, Finished, Lost };
  struct Chunk {
    ClaimChunk c;
    State state = State::Untried;
    std::vector<bool> to_do;  // per entry of the chunk, once claimed
    size_t next = 0;          // the next entry to hand out (offset in the chunk)
    size_t open = 0;          // entries handed out, not yet recorded, plus entries not handed out
  };
  bool try_chunk(size_t i);  // under mu_
  void give_away(Chunk& ch, size_t from);
  std::optional<size_t> take_from(Chunk& ch);
  void finish_if_done(Chunk& ch);
  size_t chunk_of(size_t entry) const;

  std::vector<Chunk> chunks_;
  ClaimBoard* board_;
  size_t cursor_, tried_ = 0;
  double poll_s_;
  Hooks hooks_;
  mutable std::mutex mu_;
  size_t current_ = SIZE_MAX;
  bool said_waiting_ = false;
  size_t started_ = 0, elsewhere_ = 0;
};

}  // namespace lssd
