// Writers that share one OUTPUT_DIR: who is writing (the writer registry, OUTPUT_DIR/writers/)
// and which chunk of inputs each one computes (claims, OUTPUT_DIR/claims/, DIST.MODE claim).
// Both work on one machine and across nodes that share OUTPUT_DIR over NFS or Lustre: files are
// created atomically (link(2), or O_EXCL where links are not supported), an owner renews its
// entries by touching them, and an owner is gone when it runs on this host and its pid is dead,
// or when its entry was last touched more than DIST.CLAIM_TIMEOUT_S before a file touched just
// now on the same file system (the file server's clock, not this machine's).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace lssd {

// Who writes: the host (LSSD_HOSTNAME when set, else gethostname()), the process id, and the
// writer id that names the writer's manifest and error log (claim mode), parts and temporaries.
struct WriterIdentity {
  std::string host;
  int64_t pid = 0;
  std::string id;
};

// Whether `id` can be a writer id: 1-64 of [A-Za-z0-9_-].
bool is_valid_writer_id(const std::string& id);
// This process. configured_id (DIST.WRITER_ID) when not empty, else
// "<host>-<pid>-<start time in base 36>" (the host made file-name safe). Throws
// lssd::ConfigError for a configured id that is not valid.
WriterIdentity this_writer(const std::string& configured_id);
// {"host": ..., "pid": ..., "writer": ..., "state": ...} and back (state "" when absent; the
// identity empty when the text does not parse).
std::string writer_entry_json(const WriterIdentity& w, const std::string& state);
WriterIdentity parse_writer_entry(const std::string& text, std::string* state = nullptr);

// A file's modification time in nanoseconds since the epoch as its file system keeps it; -1
// when it does not exist (or cannot be read).
int64_t file_mtime_ns(const std::string& path);
// Whether the owner of an entry last touched at mtime_ns is gone at now_ns (both by the file
// server's clock): it ran on `this_host` and its pid is not alive, or more than timeout_s passed.
bool owner_gone(const WriterIdentity& owner, int64_t mtime_ns, int64_t now_ns, double timeout_s,
                const std::string& this_host);

// Creates `path` holding `content` only if it does not exist, atomically: the content is
// written under a temporary name of `writer` and linked to `path` (link(2) fails when the name
// exists, also over NFS); where the file system has no hard links, O_CREAT|O_EXCL. Returns false
// when `path` exists. Throws lssd::Error("output") on other errors.
bool create_exclusive(const std::string& path, const std::string& content, const std::string& writer);

// OUTPUT_DIR/writers/<id>.json: one entry per live writer, renewed by touching it, removed when
// the writer ends. Thread-safe.
class WriterRegistry {
 public:
  WriterRegistry(std::string output_dir, WriterIdentity me, double timeout_s);
  ~WriterRegistry();  // leave()
  WriterRegistry(const WriterRegistry&) = delete;
  WriterRegistry& operator=(const WriterRegistry&) = delete;

  // Adds this writer's entry. Throws lssd::Error("output") when a writer with the same id is
  // alive (DIST.WRITER_ID given to two processes) or the entry cannot be written.
  void enter();
  // Removes this writer's entry (and the directory, when it is empty).
  void leave();
  // Touches this writer's entry; returns its new mtime: the file server's "now".
  int64_t renew();
  // The file server's time when this writer entered.
  int64_t entered_ns() const { return entered_ns_; }
  // Whether writer `id` is gone: it has no entry, or the entry's owner is gone (owner_gone);
  // this writer never is. Judged against a fresh renew() at most once a second.
  bool gone(const std::string& id);
  // Removes the entries of writers that are gone; returns how many.
  size_t remove_gone();
  const WriterIdentity& me() const { return me_; }
  double timeout_s() const { return timeout_s_; }
  const std::string& output_dir() const { return output_dir_; }

 private:
  std::string entry_path(const std::string& id) const;
  int64_t now_locked();

  std::string output_dir_, dir_;
  WriterIdentity me_;
  double timeout_s_;
  bool entered_ = false;
  int64_t entered_ns_ = 0, last_now_ = 0;
  int64_t last_now_steady_ns_ = 0;
  std::mutex mu_;
};

// Chunks of inputs claimed by the writers of one OUTPUT_DIR (DIST.MODE claim): one file per
// chunk and generation, OUTPUT_DIR/claims/<chunk>.g<K> (K = 0, 1, ...), holding the owner (host,
// pid, writer id) and its state ("claimed" or "done"). The highest generation is the chunk's
// state. A writer takes a chunk by creating the next generation (create_exclusive: exactly one
// of several writers that try succeeds): generation 0 when the chunk is free; the next one when
// the owner is gone (a stale claim) or when the chunk was done before this writer entered (a
// rerun: the resume check decides what is left in it). Thread-safe.
class ClaimBoard {
 public:
  explicit ClaimBoard(WriterRegistry* registry);

  enum class Outcome {
    Claimed,    // free: this writer owns it now
    TakenOver,  // its owner was gone (or it was done before this writer entered): this writer owns it now
    Done,       // another writer finished it after this writer entered
    Held,       // claimed by a writer that is alive
  };
  // Tries to take `chunk` (a file-name-safe name). *previous (may be null) gets the writer id
  // of the generation taken over. Throws lssd::Error("output") when the claims directory
  // cannot be written.
  Outcome try_claim(const std::string& chunk, std::string* previous = nullptr);
  // The chunk is finished (its inputs recorded): its claim says "done".
  void mark_done(const std::string& chunk);
  // Touches every open claim of this writer (and the registry entry); returns the chunks another
  // writer took over since (a higher generation exists): they are no longer this writer's.
  std::vector<std::string> renew();
  // Chunks this writer holds and has not finished.
  size_t open_claims() const;

 private:
  std::string path(const std::string& chunk, int gen) const;
  int highest_generation(const std::string& chunk) const;

  WriterRegistry* registry_;
  std::string dir_;
  mutable std::mutex mu_;
  std::map<std::string, int> open_;  // chunk -> the generation this writer holds
};

}  // namespace lssd
