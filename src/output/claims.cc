#include "lssd/claims.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "lssd/error.h"
#include "lssd/npy.h"

namespace lssd {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string host_name() {
  if (const char* h = std::getenv("LSSD_HOSTNAME"); h && *h) return h;
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::string base36(uint64_t v) {
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), digits[v % 36]);
    v /= 36;
  } while (v);
  return s;
}

bool pid_alive(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string read_small_file(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  if (!in) return "";
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Touches `path` to the file server's current time (utimensat with no times: NFS sends "set to
// server time"); returns false when it does not exist.
bool touch(const std::string& path) { return ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0; }

}  // namespace

bool is_valid_writer_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (unsigned char c : id)
    if (!(std::isalnum(c) || c == '_' || c == '-')) return false;
  return true;
}

WriterIdentity this_writer(const std::string& configured_id) {
  WriterIdentity w;
  w.host = host_name();
  w.pid = static_cast<int64_t>(::getpid());
  if (!configured_id.empty()) {
    if (!is_valid_writer_id(configured_id))
      throw ConfigError("DIST.WRITER_ID must be 1-64 letters, digits, '_' or '-' (got '" + configured_id + "')");
    w.id = configured_id;
    return w;
  }
  std::string host;
  for (unsigned char c : w.host) {
    if (c == '.') break;  // the short name
    host += std::isalnum(c) || c == '_' || c == '-' ? static_cast<char>(c) : '-';
  }
  if (host.size() > 32) host.resize(32);
  if (host.empty()) host = "host";
  w.id = host + "-" + std::to_string(w.pid) + "-" + base36(static_cast<uint64_t>(std::time(nullptr)));
  return w;
}

std::string writer_entry_json(const WriterIdentity& w, const std::string& state) {
  json j = {{"host", w.host}, {"pid", w.pid}, {"writer", w.id}};
  if (!state.empty()) j["state"] = state;
  return j.dump() + "\n";
}

WriterIdentity parse_writer_entry(const std::string& text, std::string* state) {
  WriterIdentity w;
  try {
    const json j = json::parse(text);
    w.host = j.value("host", "");
    w.pid = j.value("pid", int64_t{0});
    w.id = j.value("writer", "");
    if (state) *state = j.value("state", "");
  } catch (const std::exception&) {
    w = WriterIdentity{};
    if (state) state->clear();
  }
  return w;
}

int64_t file_mtime_ns(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

bool owner_gone(const WriterIdentity& owner, int64_t mtime_ns, int64_t now_ns, double timeout_s,
                const std::string& this_host) {
  if (!owner.host.empty() && owner.host == this_host && !pid_alive(owner.pid)) return true;
  return static_cast<double>(now_ns - mtime_ns) > timeout_s * 1e9;
}

bool create_exclusive(const std::string& path, const std::string& content, const std::string& writer) {
  const fs::path p(path);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string tmp =
      (p.parent_path() / temporary_name(p.filename().string(), writer, rng() % 1000000007ULL)).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("output", std::string("cannot create ") + tmp + ": " + std::strerror(errno), path, errno);
  const bool wrote = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  const int write_err = errno;
  ::close(fd);
  if (!wrote) {
    ::unlink(tmp.c_str());
    throw Error("output", std::string("cannot write ") + tmp + ": " + std::strerror(write_err), path, write_err);
  }
  bool created = false;
  if (::link(tmp.c_str(), path.c_str()) == 0) {
    created = true;
  } else {
    const int err = errno;
    struct stat st;
    if (err == EEXIST) {
      created = false;
    } else if (::stat(tmp.c_str(), &st) == 0 && st.st_nlink == 2) {  // NFS: the link was made, its reply lost
      created = true;
    } else if (err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS || err == EMLINK) {
      // No hard links here: an exclusive create (atomic on local file systems and NFSv3+).
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd >= 0) {
        created = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
        ::close(fd);
      } else if (errno != EEXIST) {
        const int e2 = errno;
        ::unlink(tmp.c_str());
        throw Error("output", std::string("cannot create: ") + std::strerror(e2), path, e2);
      }
    } else {
      ::unlink(tmp.c_str());
      throw Error("output", std::string("cannot create: ") + std::strerror(err), path, err);
    }
  }
  ::unlink(tmp.c_str());
  return created;
}

// ---- WriterRegistry ----

WriterRegistry::WriterRegistry(std::string output_dir, WriterIdentity me, double timeout_s)
    : output_dir_(std::move(output_dir)), me_(std::move(me)), timeout_s_(timeout_s) {
  dir_ = (fs::path(output_dir_) / "writers").string();
}

WriterRegistry::~WriterRegistry() {
  try {
    leave();
  } catch (...) {
  }
}

std::string WriterRegistry::entry_path(const std::string& id) const {
  return (fs::path(dir_) / (id + ".json")).string();
}

void WriterRegistry::enter() {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error("output", "cannot create the writers directory: " + ec.message(), dir_, ec.value());
  const std::string path = entry_path(me_.id);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (create_exclusive(path, writer_entry_json(me_, ""), me_.id)) {
      entered_ = true;
      entered_ns_ = file_mtime_ns(path);
      last_now_ = entered_ns_;
      last_now_steady_ns_ = steady_ns();
      return;
    }
    // An entry with this id: a live writer's (refuse), or a gone one's (replace it).
    bool ok = false;
    const WriterIdentity owner = parse_writer_entry(read_small_file(path, &ok));
    if (!ok) continue;  // removed meanwhile
    const std::string probe = path + ".now";
    std::ofstream(probe).put('\n');
    const int64_t now = file_mtime_ns(probe);
    ::unlink(probe.c_str());
    if (!owner_gone(owner, file_mtime_ns(path), now, timeout_s_, me_.host))
      throw Error("output",
                  "writer id '" + me_.id + "' is in use by a live process (host " + owner.host + ", pid " +
                      std::to_string(owner.pid) + "): give each process its own DIST.WRITER_ID",
                  path);
    ::unlink(path.c_str());
  }
  throw Error("output", "cannot enter the writer registry", path);
}

void WriterRegistry::leave() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!entered_) return;
  entered_ = false;
  ::unlink(entry_path(me_.id).c_str());
  ::rmdir(dir_.c_str());  // only when empty
}

int64_t WriterRegistry::now_locked() {
  const std::string path = entry_path(me_.id);
  if (!touch(path)) {  // removed (by hand, or by a writer that judged this one gone): enter again
    create_exclusive(path, writer_entry_json(me_, ""), me_.id);
  }
  last_now_ = std::max(last_now_, file_mtime_ns(path));
  last_now_steady_ns_ = steady_ns();
  return last_now_;
}

int64_t WriterRegistry::renew() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!entered_) return last_now_;
  return now_locked();
}

bool WriterRegistry::gone(const std::string& id) {
  if (id == me_.id) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (entered_ && steady_ns() - last_now_steady_ns_ > 1000000000LL) now_locked();
  const std::string path = entry_path(id);
  bool ok = false;
  const std::string text = read_small_file(path, &ok);
  if (!ok) return true;
  const int64_t mtime = file_mtime_ns(path);
  if (mtime < 0) return true;
  const int64_t now = last_now_ + (steady_ns() - last_now_steady_ns_);
  return owner_gone(parse_writer_entry(text), mtime, now, timeout_s_, me_.host);
}

size_t WriterRegistry::remove_gone() {
  std::vector<std::string> ids;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path p = it->path();
    if (p.extension() == ".json" && !is_temporary_name(p.filename().string())) ids.push_back(p.stem().string());
  }
  size_t removed = 0;
  for (const auto& id : ids)
    if (gone(id) && ::unlink(entry_path(id).c_str()) == 0) ++removed;
  return removed;
}

// ---- ClaimBoard ----

ClaimBoard::ClaimBoard(WriterRegistry* registry) : registry_(registry) {
  dir_ = (fs::path(registry_->output_dir()) / "claims").string();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error("output", "cannot create the claims directory: " + ec.message(), dir_, ec.value());
}

std::string ClaimBoard::path(const std::string& chunk, int gen) const {
  return (fs::path(dir_) / (chunk + ".g" + std::to_string(gen))).string();
}

int ClaimBoard::highest_generation(const std::string& chunk) const {
  int gen = -1;
  while (file_mtime_ns(path(chunk, gen + 1)) >= 0) ++gen;
  return gen;
}

ClaimBoard::Outcome ClaimBoard::try_claim(const std::string& chunk, std::string* previous) {
  const WriterIdentity& me = registry_->me();
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int gen = highest_generation(chunk);
    if (gen >= 0) {
      bool ok = false;
      std::string state;
      const std::string current = path(chunk, gen);
      const std::string text = read_small_file(current, &ok);
      const int64_t mtime = file_mtime_ns(current);
      if (!ok || mtime < 0) continue;  // replaced meanwhile
      const WriterIdentity owner = parse_writer_entry(text, &state);
      if (state == "done") {
        if (mtime >= registry_->entered_ns()) return Outcome::Done;
      } else if (!owner_gone(owner, mtime, registry_->renew(), registry_->timeout_s(), me.host)) {
        return Outcome::Held;
      }
      if (previous) *previous = owner.id;
    }
    if (create_exclusive(path(chunk, gen + 1), writer_entry_json(me, "claimed"), me.id)) {
      std::lock_guard<std::mutex> lock(mu_);
      open_[chunk] = gen + 1;
      return gen < 0 ? Outcome::Claimed : Outcome::TakenOver;
    }
  }
  throw Error("output", "cannot claim chunk " + chunk + ": too many concurrent changes", dir_);
}

void ClaimBoard::mark_done(const std::string& chunk) {
  int gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(chunk);
    if (it == open_.end()) return;
    gen = it->second;
    open_.erase(it);
  }
  write_file_atomic(path(chunk, gen), writer_entry_json(registry_->me(), "done"), registry_->me().id,
                    /*durable=*/false);
}

std::vector<std::string> ClaimBoard::renew() {
  registry_->renew();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> lost;
  for (auto it = open_.begin(); it != open_.end();) {
    const bool mine = touch(path(it->first, it->second)) && file_mtime_ns(path(it->first, it->second + 1)) < 0;
    if (mine) {
      ++it;
    } else {
      lost.push_back(it->first);
      it = open_.erase(it);
    }
  }
  return lost;
}

size_t ClaimBoard::open_claims() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

}  // namespace lssd
