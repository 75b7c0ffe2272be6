#include "lssd/shards.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "lssd/error.h"

namespace lssd {
namespace fs = std::filesystem;

namespace {
constexpr const char* kPartsDir = "parts";

// LSSD_TEST_SEAL_PAUSE_MS (see shards.h): 0 when unset.
int seal_pause_ms() {
  static const int ms = [] {
    const char* v = std::getenv("LSSD_TEST_SEAL_PAUSE_MS");
    return v ? std::atoi(v) : 0;
  }();
  return ms;
}
void seal_pause() {
  if (seal_pause_ms() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(seal_pause_ms()));
}
}  // namespace

std::string part_name(const std::string& writer, int64_t n) {
  char num[32];
  std::snprintf(num, sizeof num, "%06lld", static_cast<long long>(n));
  return std::string(kPartsDir) + "/" + writer + "." + num + ".npy";
}

bool is_part_name(const std::string& rel, std::string* writer) {
  const std::string prefix = std::string(kPartsDir) + "/";
  if (rel.rfind(prefix, 0) != 0 || rel.size() < prefix.size() + 6 || rel.compare(rel.size() - 4, 4, ".npy") != 0)
    return false;
  const std::string name = rel.substr(prefix.size(), rel.size() - prefix.size() - 4);  // <writer>.<n>
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size() || name.find('/') != std::string::npos)
    return false;
  for (size_t i = dot + 1; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  if (writer) *writer = name.substr(0, dot);
  return true;
}

ShardWriter::ShardWriter(Options o, JsonlAppender* manifest, SealedFn sealed)
    : o_(std::move(o)), manifest_(manifest), sealed_(std::move(sealed)) {
  // A writer id used before (DIST.WRITER_ID given again): continue after its parts, never
  // replacing one.
  std::error_code ec;
  const fs::path dir = fs::path(o_.modality_dir) / kPartsDir;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string w;
    const std::string rel = std::string(kPartsDir) + "/" + it->path().filename().string();
    if (!is_part_name(rel, &w) || w != o_.writer) continue;
    const std::string stem = it->path().stem().string();
    next_part_ = std::max<int64_t>(next_part_, std::stoll(stem.substr(stem.rfind('.') + 1)) + 1);
  }
}

ShardWriter::~ShardWriter() {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

int64_t ShardWriter::parts_sealed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sealed_count_;
}

std::vector<std::pair<Record, uint64_t>> ShardWriter::take_lost() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(lost_);
}

void ShardWriter::fail_locked(const std::string& what, int err) {
  const Error e("output", "cannot write shard part: " + what + ": " + std::strerror(err),
                (fs::path(o_.modality_dir) / final_rel_).string(), err);
  discard_locked();
  throw e;
}

void ShardWriter::discard_locked() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  for (auto& p : pending_) lost_.push_back(std::move(p));
  pending_.clear();
  buffer_.clear();
  rows_ = 0;
  data_bytes_ = 0;
}

void ShardWriter::open_part(const std::vector<int64_t>& row_shape) {
  const fs::path dir = fs::path(o_.modality_dir) / kPartsDir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::error_code exists_ec;
  while (fs::exists(fs::path(o_.modality_dir) / part_name(o_.writer, next_part_), exists_ec)) ++next_part_;
  final_rel_ = part_name(o_.writer, next_part_++);
  if (ec) fail_locked("cannot create " + dir.string(), ec.value());
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  tmp_path_ =
      (dir / temporary_name(fs::path(final_rel_).filename().string(), o_.writer, rng() % 1000000007ULL)).string();
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_locked("cannot create " + tmp_path_, errno);
  row_shape_ = row_shape;
  rows_ = 0;
  data_bytes_ = 0;
  // The header of an empty part, rewritten with the row count when the part is sealed.
  std::vector<int64_t> shape{0};
  shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
  buffer_ = npy_header(shape, o_.dtype, kPartHeaderBytes);
}

void ShardWriter::write_buffer() {
  size_t off = 0;
  while (off < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_locked("write failed", errno);
    }
    off += static_cast<size_t>(n);
  }
  buffer_.clear();
}

void ShardWriter::add(Record r, const FloatArray& a, uint64_t tag) {
  if (a.shape.empty()) throw Error("output", "an embedding without a shape", r.path);
  const std::vector<int64_t> row_shape(a.shape.begin() + 1, a.shape.end());
  std::lock_guard<std::mutex> lock(mu_);
  try {
    if (fd_ >= 0 && row_shape != row_shape_) seal_locked();  // another width: a part of its own
    if (fd_ < 0) open_part(row_shape);
  } catch (const Error&) {
    lost_.emplace_back(std::move(r), tag);
    throw;
  }
  r.version = kShardRecordVersion;
  r.output = final_rel_;
  r.row = rows_;
  r.num_clips = a.shape[0];
  r.shape = a.shape;
  r.dtype = o_.dtype == NpyDtype::Float16 ? "float16" : "float32";
  r.status = RecordStatus::Ok;
  const uint64_t bytes = FloatArray::numel_of(a.shape) * npy_item_size(o_.dtype);
  if (o_.holes) {
    write_buffer();
    if (::lseek(fd_, static_cast<off_t>(bytes), SEEK_CUR) < 0) fail_locked("seek failed", errno);
  } else {
    append_npy_values(buffer_, a.data.data(), a.data.size(), o_.dtype);
  }
  rows_ += a.shape[0];
  data_bytes_ += bytes;
  pending_.emplace_back(std::move(r), tag);
  if (buffer_.size() >= (1u << 20)) write_buffer();
  if (static_cast<int64_t>(pending_.size()) >= o_.limits.inputs ||
      data_bytes_ >= static_cast<uint64_t>(std::max<int64_t>(o_.limits.bytes, 1)))
    seal_locked();
}

void ShardWriter::seal() {
  std::lock_guard<std::mutex> lock(mu_);
  seal_locked();
}

void ShardWriter::seal_locked() {
  if (fd_ < 0) return;
  write_buffer();
  if (o_.holes && ::ftruncate(fd_, static_cast<off_t>(kPartHeaderBytes + data_bytes_)) != 0)
    fail_locked("truncate failed", errno);
  std::vector<int64_t> shape{rows_};
  shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
  const std::string header = npy_header(shape, o_.dtype, kPartHeaderBytes);
  if (header.size() != kPartHeaderBytes) fail_locked("header of " + shape_str(shape) + " too long", EOVERFLOW);
  if (::pwrite(fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
    fail_locked("header write failed", errno);
  if (o_.durable && ::fsync(fd_) != 0) fail_locked("fsync failed", errno);
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) fail_locked("close failed", errno);
  const std::string final_path = (fs::path(o_.modality_dir) / final_rel_).string();
  if (seal_pause_ms() > 0) {
    std::fprintf(stderr, "test hook: sealing %s\n", final_path.c_str());
    std::fflush(stderr);
  }
  seal_pause();
  if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) fail_locked("rename failed", errno);
  tmp_path_.clear();
  if (o_.durable) {  // the rename itself is durable once the directory is synced
    const int dfd = ::open(fs::path(final_path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  seal_pause();
  std::vector<std::string> lines;
  lines.reserve(pending_.size());
  for (const auto& p : pending_) lines.push_back(record_to_json(p.first));
  try {
    manifest_->append_lines(lines);
  } catch (const Error& e) {  // the part is sealed but no record names it: its inputs are redone
    for (auto& p : pending_) lost_.push_back(std::move(p));
    pending_.clear();
    throw Error("output", "part " + final_path + " sealed but its records not written: " + e.message(), e.file(),
                e.sys_errno());
  }
  std::vector<std::pair<Record, uint64_t>> sealed = std::move(pending_);
  pending_.clear();
  rows_ = 0;
  data_bytes_ = 0;
  ++sealed_count_;
  if (sealed_) sealed_(sealed);
}

}  // namespace lssd
