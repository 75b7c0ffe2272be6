#include "pipeline/claim_work.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace lssd {

std::vector<ClaimChunk> make_chunks(const std::vector<std::string>& job_keys, size_t k,
                                    const std::vector<size_t>& todo_job) {
  std::vector<ClaimChunk> chunks;
  k = std::max<size_t>(k, 1);
  size_t t = 0;
  for (size_t first = 0, index = 0; first < job_keys.size(); first += k, ++index) {
    const size_t end = std::min(job_keys.size(), first + k);
    uint64_t h = 1469598103934665603ULL;  // FNV-1a 64 of k and the keys
    auto mix = [&h](const std::string& s) {
      for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
      }
      h ^= 0xff;
      h *= 1099511628211ULL;
    };
    mix(std::to_string(k));
    for (size_t j = first; j < end; ++j) mix(job_keys[j]);
    char name[64];
    std::snprintf(name, sizeof name, "c%06zu-%016llx", index, static_cast<unsigned long long>(h));
    ClaimChunk c;
    c.name = name;
    c.todo_begin = t;
    while (t < todo_job.size() && todo_job[t] < end) ++t;
    c.todo_end = t;
    chunks.push_back(std::move(c));
  }
  return chunks;
}

ClaimWork::ClaimWork(std::vector<ClaimChunk> chunks, ClaimBoard* board, size_t first_chunk, double poll_s, Hooks hooks)
    : board_(board),
      cursor_(chunks.empty() ? 0 : first_chunk % chunks.size()),
      poll_s_(poll_s),
      hooks_(std::move(hooks)) {
  for (auto& c : chunks) {
    Chunk ch;
    ch.c = std::move(c);
    chunks_.push_back(std::move(ch));
  }
}

size_t ClaimWork::started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_;
}

size_t ClaimWork::elsewhere() const {
  std::lock_guard<std::mutex> lock(mu_);
  return elsewhere_;
}

size_t ClaimWork::chunk_of(size_t entry) const {
  auto it = std::upper_bound(chunks_.begin(), chunks_.end(), entry,
                             [](size_t e, const Chunk& ch) { return e < ch.c.todo_end; });
  return static_cast<size_t>(it - chunks_.begin());
}

// The chunk's entries from offset `from` on are another writer's.
void ClaimWork::give_away(Chunk& ch, size_t from) {
  for (size_t i = from; i < ch.c.todo_end - ch.c.todo_begin; ++i) {
    if (!ch.to_do.empty() && !ch.to_do[i]) continue;  // counted when the chunk was claimed
    ++elsewhere_;
    if (hooks_.done_elsewhere) hooks_.done_elsewhere(ch.c.todo_begin + i);
  }
}

bool ClaimWork::try_chunk(size_t i) {
  Chunk& ch = chunks_[i];
  const size_t n = ch.c.todo_end - ch.c.todo_begin;
  if (n == 0) {  // nothing of it to do: no claim needed
    ch.state = State::Finished;
    return false;
  }
  std::string previous;
  switch (board_->try_claim(ch.c.name, &previous)) {
    case ClaimBoard::Outcome::Held: ch.state = State::Held; return false;
    case ClaimBoard::Outcome::Done:
      ch.state = State::Finished;
      give_away(ch, 0);
      return false;
    case ClaimBoard::Outcome::TakenOver:
      if (hooks_.info)
        hooks_.info("took over chunk " + ch.c.name + " from writer " + (previous.empty() ? "?" : previous) +
                    " (gone, or done before this run): what it recorded is kept");
      [[fallthrough]];
    case ClaimBoard::Outcome::Claimed: break;
  }
  ch.to_do = hooks_.still_to_do ? hooks_.still_to_do(ch.c) : std::vector<bool>(n, true);
  ch.to_do.resize(n, true);
  ch.open = 0;
  for (size_t e = 0; e < n; ++e) {
    if (ch.to_do[e]) {
      ++ch.open;
    } else {
      ++elsewhere_;
      if (hooks_.done_elsewhere) hooks_.done_elsewhere(ch.c.todo_begin + e);
    }
  }
  ch.next = 0;
  ch.state = State::Mine;
  finish_if_done(ch);
  return ch.state == State::Mine;
}

std::optional<size_t> ClaimWork::take_from(Chunk& ch) {
  const size_t n = ch.c.todo_end - ch.c.todo_begin;
  while (ch.next < n) {
    const size_t e = ch.next++;
    if (!ch.to_do[e]) continue;
    ++started_;
    return ch.c.todo_begin + e;
  }
  return std::nullopt;
}

void ClaimWork::finish_if_done(Chunk& ch) {
  if (ch.state != State::Mine || ch.open > 0) return;
  ch.state = State::Finished;
  board_->mark_done(ch.c.name);
}

std::optional<size_t> ClaimWork::next() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (hooks_.stopping && hooks_.stopping()) return std::nullopt;
    if (current_ < chunks_.size() && chunks_[current_].state == State::Mine)
      if (auto e = take_from(chunks_[current_])) return e;
    bool claimed = false;
    const size_t start = cursor_;
    for (size_t step = 0; step < chunks_.size() && !claimed; ++step) {
      const size_t i = (start + step) % chunks_.size();
      if (chunks_[i].state != State::Untried) continue;
      cursor_ = i + 1;
      if (try_chunk(i)) {
        current_ = i;
        claimed = true;
      }
    }
    if (claimed) continue;
    size_t held = 0;
    for (const Chunk& ch : chunks_) held += ch.state == State::Held ? 1 : 0;
    if (held == 0) return std::nullopt;  // every chunk done, here or elsewhere
    if (!said_waiting_ && hooks_.info)
      hooks_.info("waiting for " + std::to_string(held) +
                  " chunk(s) that other writers hold: each ends done, or is taken over once its writer is gone");
    said_waiting_ = true;
    lock.unlock();
    if (hooks_.idle) hooks_.idle();
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(poll_s_);
    while (std::chrono::steady_clock::now() < until && !(hooks_.stopping && hooks_.stopping()))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lock.lock();
    for (Chunk& ch : chunks_)
      if (ch.state == State::Held) ch.state = State::Untried;
  }
}

void ClaimWork::recorded(size_t entry) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t i = chunk_of(entry);
  if (i >= chunks_.size()) return;
  Chunk& ch = chunks_[i];
  if (ch.open > 0) --ch.open;
  finish_if_done(ch);
}

void ClaimWork::renew() {
  const std::vector<std::string> lost = board_->renew();
  if (lost.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& name : lost)
    for (Chunk& ch : chunks_)
      if (ch.c.name == name && ch.state == State::Mine) {
        ch.state = State::Lost;
        if (hooks_.info)
          hooks_.info("chunk " + name + " was taken over by another writer: its inputs not started are left to it");
        const size_t n = ch.c.todo_end - ch.c.todo_begin;
        for (size_t e = ch.next; e < n; ++e)
          if (ch.to_do[e]) {
            ++elsewhere_;
            if (hooks_.done_elsewhere) hooks_.done_elsewhere(ch.c.todo_begin + e);
          }
        ch.next = n;
      }
}

}  // namespace lssd
