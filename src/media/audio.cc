// Audio: one audio stream decoded to float at its native rate, mixed to mono, cut into the
// release's clips as it is decoded (lssd/media.h).
#include <cstring>
#include <vector>

extern "C" {
#include <libavutil/samplefmt.h>
}

#include "clips/audio_clip_stream.h"
#include "lssd/media.h"
#include "media/ffmpeg.h"

namespace lssd {
using namespace media;  // NOLINT: the module's own FFmpeg layer

namespace {

// Float conversion of one sample as libswresample does it (to AV_SAMPLE_FMT_FLT).
inline float sample_to_float(const uint8_t* p, AVSampleFormat packed_fmt) {
  switch (packed_fmt) {
    case AV_SAMPLE_FMT_U8: return static_cast<float>(static_cast<int>(*p) - 0x80) * (1.0f / (1 << 7));
    case AV_SAMPLE_FMT_S16: {
      int16_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<float>(v) * (1.0f / (1 << 15));
    }
    case AV_SAMPLE_FMT_S32: {
      int32_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<float>(v) * (1.0f / (1U << 31));
    }
    case AV_SAMPLE_FMT_S64: {
      int64_t v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<float>(v) * (1.0f / static_cast<float>(UINT64_C(1) << 63));
    }
    case AV_SAMPLE_FMT_FLT: {
      float v;
      std::memcpy(&v, p, sizeof v);
      return v;
    }
    case AV_SAMPLE_FMT_DBL: {
      double v;
      std::memcpy(&v, p, sizeof v);
      return static_cast<float>(v);
    }
    default: return 0.0f;
  }
}

// Appends the frame's samples, mixed to mono ((c0 + c1 + ...) / C in float, as the release's
// torch mean), to *out.
void mix_to_mono(const AVFrame* f, std::vector<float>* out) {
  const int n = f->nb_samples;
  const int ch = f->ch_layout.nb_channels;
  if (n <= 0 || ch <= 0) return;
  const auto fmt = static_cast<AVSampleFormat>(f->format);
  const bool planar = av_sample_fmt_is_planar(fmt) != 0;
  const AVSampleFormat packed = av_get_packed_sample_fmt(fmt);
  const int bps = av_get_bytes_per_sample(packed);
  const size_t old = out->size();
  out->resize(old + static_cast<size_t>(n));
  float* dst = out->data() + old;
  for (int j = 0; j < n; ++j) {
    float sum = 0.0f;
    for (int c = 0; c < ch; ++c) {
      const uint8_t* p = planar ? f->extended_data[c] + static_cast<ptrdiff_t>(j) * bps
                                : f->extended_data[0] + (static_cast<ptrdiff_t>(j) * ch + c) * bps;
      const float v = sample_to_float(p, packed);
      sum = c == 0 ? v : sum + v;
    }
    dst[j] = ch == 1 ? sum : (ch == 2 ? sum / 2.0f : sum / static_cast<float>(ch));
  }
}

// The stream to decode: audio_stream, or FFmpeg's best audio stream when none is given.
int pick_audio_stream(AVFormatContext* ctx, std::optional<int> stream, const std::string& path) {
  if (!stream) {
    const int as = av_find_best_stream(ctx, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (as < 0) throw ContentError("open", "no audio stream", path);
    return as;
  }
  const int audio_stream = *stream;
  if (audio_stream < 0 || audio_stream >= static_cast<int>(ctx->nb_streams) ||
      ctx->streams[audio_stream]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
    throw ContentError("open", "stream " + std::to_string(audio_stream) + " is not an audio stream", path);
  return audio_stream;
}

}  // namespace

AudioFileResult decode_audio_clips(const std::string& path, std::optional<int> audio_stream, const AudioOptions& aopts,
                                   const MediaOptions& mopts, const ClipSink<AudioClipSamples>& sink) {
  FfmpegLogScope log_scope(path);
  Deadline deadline(mopts.deadline_s);
  AudioFileResult result;
  FormatPtr ctx = open_input(path, &deadline);
  const int as = pick_audio_stream(ctx.get(), audio_stream, path);
  const AVStream* st = ctx->streams[as];
  result.stream_index = as;
  result.language = stream_language(st);
  result.sample_rate = st->codecpar->sample_rate;
  result.channels = st->codecpar->ch_layout.nb_channels;
  const int sr = result.sample_rate;
  if (sr <= 0) throw ContentError("open", "unknown sample rate", path);
  discard_all_but(ctx.get(), as);
  CodecPtr cc = open_decoder(st, mopts, path);
  if (sink.planned && stream_seconds(ctx.get(), st) > 0) {
    const auto n = static_cast<int64_t>(stream_seconds(ctx.get(), st) * sr);
    sink.planned(static_cast<int>(plan_audio_clips(n, sr, aopts.clip_len).clips.size()));
  }
  AudioClipStream clips(sr, aopts.clip_len);
  const AudioClipStream::OnClip emit = [&](const AudioClip& c, std::vector<float>&& samples) {
    AudioClipSamples out{c.index, c.start, c.stop, c.start_s, c.stop_s, sr, std::move(samples)};
    result.ranges.emplace_back(c.start, c.stop);
    deadline.excluding([&] { sink.clip(std::move(out)); });
  };
  std::vector<float> mono;
  decode_stream(ctx.get(), cc.get(), as, deadline, path, [&](const AVFrame* f) {
    mono.clear();
    mix_to_mono(f, &mono);
    clips.append(mono.data(), mono.size(), emit);
  });
  result.num_samples = clips.samples();
  result.skipped_short = !clips.finish(emit);
  if (result.skipped_short) result.ranges.clear();
  result.num_clips = static_cast<int>(result.ranges.size());
  return result;
}

}  // namespace lssd
