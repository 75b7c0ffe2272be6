#include "clips/clip_frames.h"

#include <regex>
#include <utility>

namespace lssd {

bool release_should_buffer(const std::string& extradata) {
  const size_t pos = extradata.find("DivX");
  if (pos == std::string::npos) return true;
  const std::string d = extradata.substr(pos);
  // Python's bytes regex: \d and \w are ASCII; ECMAScript's are the same classes.
  static const std::regex build(R"(DivX(\d+)Build(\d+)(\w))");
  static const std::regex beta(R"(DivX(\d+)b(\d+)(\w))");
  std::smatch m;
  if (std::regex_search(d, m, build) || std::regex_search(d, m, beta)) return m[3].str() == "p";
  return true;
}

ClipFrameCollector::ClipFrameCollector(std::vector<VideoClip> clips, bool should_buffer)
    : stop_after_(should_buffer ? 6 : 1) {
  pending_.reserve(clips.size());
  for (auto& c : clips) {
    Pending p;
    p.clip = c;
    pending_.push_back(std::move(p));
  }
}

void ClipFrameCollector::hold(uint64_t id) { ++refs_[id]; }

void ClipFrameCollector::drop(uint64_t id) {
  auto it = refs_.find(id);
  if (it == refs_.end()) return;
  if (--it->second == 0) {
    refs_.erase(it);
    released_.push_back(id);
  }
}

void ClipFrameCollector::feed(Pending& p, int64_t pts, uint64_t id) {
  const VideoClip& c = p.clip;
  if (pts < c.lo) {  // a candidate for the preceding frame; a repeated pts keeps the later frame
    if (!p.has_preceding || pts >= p.preceding.pts) {
      if (p.has_preceding) drop(p.preceding.id);
      p.preceding = {pts, id};
      p.has_preceding = true;
      hold(id);
    }
  } else if (pts <= c.hi) {
    auto [it, inserted] = p.frames.try_emplace(pts, id);
    if (!inserted) {
      drop(it->second);
      it->second = id;
    }
    hold(id);
  }
  if (pts >= c.hi && ++p.past_hi >= stop_after_) p.over = true;
}

void ClipFrameCollector::add(int64_t pts, uint64_t id) {
  refs_.emplace(id, 0);
  for (size_t i = next_pop_; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    if (p.over) continue;
    if (!p.started) {
      if (pts < p.clip.lo) break;  // clips are sorted by lo: none later has started either
      p.started = true;
      if (has_best_) {  // every frame so far is below lo: the best of them precedes the clip
        p.preceding = best_;
        p.has_preceding = true;
        hold(best_.id);
      }
    }
    feed(p, pts, id);
  }
  // The frame with the largest pts so far: the preceding frame of clips that start later.
  if (!has_best_ || pts >= best_.pts) {
    if (has_best_) drop(best_.id);
    best_ = {pts, id};
    has_best_ = true;
    hold(id);
  }
  if (refs_.at(id) == 0) {
    refs_.erase(id);
    released_.push_back(id);
  }
}

void ClipFrameCollector::finish() {
  for (size_t i = next_pop_; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    if (!p.started && has_best_ && best_.pts < p.clip.lo) {
      p.preceding = best_;
      p.has_preceding = true;
      hold(best_.id);
    }
    p.started = true;
    p.over = true;
  }
  if (has_best_) {
    drop(best_.id);
    has_best_ = false;
  }
}

bool ClipFrameCollector::pop_complete(CollectedClip* out) {
  if (next_pop_ >= pending_.size() || !pending_[next_pop_].over) return false;
  Pending& p = pending_[next_pop_++];
  out->index = p.clip.index;
  out->ids.clear();
  out->pts.clear();
  const bool exact = p.frames.count(p.clip.lo) > 0;
  if (p.clip.lo > 0 && !exact && p.has_preceding) {
    out->ids.push_back(p.preceding.id);
    out->pts.push_back(p.preceding.pts);
  }
  for (const auto& [pts, id] : p.frames) {
    out->ids.push_back(id);
    out->pts.push_back(pts);
  }
  if (p.has_preceding) drop(p.preceding.id);
  for (const auto& kv : p.frames) drop(kv.second);
  p.frames.clear();
  p.has_preceding = false;
  return true;
}

std::vector<uint64_t> ClipFrameCollector::take_released() {
  std::vector<uint64_t> out;
  out.swap(released_);
  return out;
}

}  // namespace lssd
