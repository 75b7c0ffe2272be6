// libFuzzer target over the untrusted-media path: the input bytes are written to a temporary
// file, then probe_media, decode_video_clips (each clip through VideoTransform) and
// decode_audio_clips run on it with a small
// per-file deadline (as lssd-infer does for every input). lssd::Error is the expected outcome
// for bad data; anything else (a crash, an ASan/UBSan report, an uncaught exception, a hang past
// -timeout) is a finding. Built and run by tools/fuzz.sh (see tests/fuzz/README.md).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "lssd/error.h"
#include "lssd/media.h"
#include "lssd/options.h"
#include "lssd/video_transform.h"

namespace {

std::string temp_path() {
  // Per process (libFuzzer -jobs/-workers run several), reused for every input.
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/lssd_fuzz_media_" + std::to_string(::getpid()) + ".bin";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = temp_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);

  lssd::MediaOptions mopts;
  mopts.deadline_s = 2.0;
  mopts.decode_threads = 1;
  lssd::VideoOptions vopts;
  lssd::AudioOptions aopts;
  try {
    lssd::MediaInfo info = lssd::probe_media(path, mopts);
    (void)info;
  } catch (const lssd::Error&) {
    return 0;  // not openable: the decoders would fail the same way
  }
  try {
    // Each clip also goes through the video transform (resize + FiveCrop), as in lssd-infer.
    lssd::VideoTransform transform(vopts);
    lssd::ClipSink<lssd::VideoClipFrames> sink;
    sink.clip = [&](lssd::VideoClipFrames&& c) {
      for (const auto& fr : c.frames)
        if (fr.size() != static_cast<size_t>(c.width) * c.height * 3) std::abort();  // the documented layout
      const lssd::FloatArray t = transform(c.frames, c.width, c.height);
      if (t.numel() != c.frames.size() * 5 * 3 * static_cast<size_t>(vopts.crop_h) * vopts.crop_w) std::abort();
    };
    sink.withdraw = [](int first) {
      if (first < 0) std::abort();
    };
    lssd::decode_video_clips(path, vopts, mopts, sink);
  } catch (const lssd::Error&) {
  }
  try {
    lssd::ClipSink<lssd::AudioClipSamples> sink;
    sink.clip = [&](lssd::AudioClipSamples&& c) {
      if (c.mono.size() > static_cast<size_t>(c.stop - c.start)) std::abort();
      for (float v : c.mono)
        if (v != v) std::abort();  // NaN from integer/float conversion
    };
    lssd::decode_audio_clips(path, std::nullopt, aopts, mopts, sink);
  } catch (const lssd::Error&) {
  }
  return 0;
}
