// Opening and decoding untrusted media files: the only module with FFmpeg types (they stay in
// src/media/). Files are opened through the `file` protocol only, with a whitelist of demuxers
// and a per-file wall-clock deadline. Decoding streams clips out through a callback, so that
// memory does not grow with the length of a file.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lssd/options.h"

namespace lssd {

struct StreamInfo {
  int index = -1;
  std::string type;  // "video" | "audio" | "subtitle" | "data" | "other"
  std::string codec;
  std::string language;  // the stream's "language" tag, empty when none
  int channels = 0;
  int sample_rate = 0;
  double avg_fps = 0;  // avg_frame_rate as a double (0 when unknown)
  int width = 0, height = 0;
  int64_t time_base_num = 0, time_base_den = 1;
};

struct MediaInfo {
  std::string path;
  std::string format;  // the demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  double duration_s = 0;
  std::vector<StreamInfo> streams;
};

// Opens and probes a file. Throws lssd::Error("open", ...) when it cannot be opened, is not a
// whitelisted container, or names a protocol other than a plain file.
MediaInfo probe_media(const std::string& path, const MediaOptions& opts);

// What the decoders report while they run (Clip: VideoClipFrames or AudioClipSamples).
template <class Clip>
struct ClipSink {
  // Optional: how many clips the file gives (video: its plan, again after a re-plan; audio: an
  // estimate from the container's duration, when it has one). For progress only.
  std::function<void(int clips)> planned;
  // Each clip as soon as it is complete, in index order.
  std::function<void(Clip&&)> clip;
  // Video: the decoded frames planned other clips; every clip delivered with index >= first is
  // withdrawn (the clips of the final plan from `first` on follow). Required for video.
  std::function<void(int first)> withdraw;
};

// ---- video -------------------------------------------------------------------------------

// The version of the rule by which video timestamps and clip frames are read. 1: packet pts
// without AVFMT_FLAG_GENPTS; 2: the release's rule (GENPTS, packets or decoded frames as
// torchvision decides, read_video's frame choice). Part of the video model id: outputs read
// under another rule are recomputed by a rerun.
constexpr int kVideoReadRule = 2;
struct VideoClipFrames {
  int index = 0;  // clip index within the file
  double start_s = 0, stop_s = 0;
  int width = 0, height = 0;                 // of the frames (all frames of a clip share the first one's size)
  int num_decoded = 0;                       // frames of the clip before the 25 fps / 16-frame selection
  std::vector<int64_t> clip_pts;             // pts of all num_decoded frames of the clip, in order
  std::vector<int64_t> pts;                  // pts of the selected frames
  std::vector<std::vector<uint8_t>> frames;  // the selected frames, RGB24 packed, h*w*3 each
};

struct VideoFileResult {
  bool skipped_short = false;  // fewer than 2 timestamps: no clips, not an error
  double avg_fps = 0;          // the stream's avg_frame_rate
  int stream_index = -1;
  int num_clips = 0;
  std::vector<std::pair<double, double>> ranges;  // clip [start, stop] in seconds
  // Which timestamps the clip plan follows (the release's rule): "packets" when the extradata
  // of the container's first stream contains "Lavc" (the pts of the demuxed packets), else
  // "frames" (the pts of the decoded frames).
  std::string timestamp_source;
  int64_t num_timestamps = 0;     // timestamps the final plan was made from
  int64_t packet_timestamps = 0;  // packets with a pts (read with GENPTS, as PyAV opens files)
  int64_t decoded_frames = 0;     // decoded frames with a pts (last decode pass)
  int64_t decode_errors = 0;      // packets or frames the decoder refused (last decode pass)
  // Decode passes: 1, or 2 when the decoded frames' timestamps gave another plan than the
  // packets' (the clips from the first pass were then withdrawn from `restart_from` on).
  int decode_passes = 0;
  std::optional<int> restart_from;  // first clip index decoded again (none: one plan)
  // The release's read stops 5 frames after a clip's end unless DivX user data says the
  // stream has no packed B-frames (then at the first frame past the end).
  bool should_buffer = true;
};

// The clips of the first video stream, decoded as the release reads them (see README: "How
// video is read"). The file is opened as PyAV opens it (AVFMT_FLAG_GENPTS). A demux-only pass
// gives the packets' timestamps and a first plan (sink.planned); one decode pass, in order,
// delivers each clip through sink.clip as soon as its frames are complete (clips in index order;
// only the frames of clips in flight are kept, as references); the 16 selected frames of a clip
// are converted to RGB24 exactly like PyAV's frame.to_rgb() (swscale, same size, SWS_BILINEAR,
// the frame's own colorspace). When the plan follows decoded frames ("frames") and those give
// another plan than the packets did, sink.withdraw(k) withdraws every clip delivered with index
// >= k and a second decode pass delivers the clips of the final plan from k on. Clip frames are
// modelled on this sequential decode (ClipFrameCollector).
// Throws lssd::Error("open"|"decode", ...); errors thrown by the sink pass through.
VideoFileResult decode_video_clips(const std::string& path, const VideoOptions& vopts, const MediaOptions& mopts,
                                   const ClipSink<VideoClipFrames>& sink);

// ---- audio -------------------------------------------------------------------------------
struct AudioClipSamples {
  int index = 0;
  int64_t start = 0, stop = 0;  // sample range at the native rate
  double start_s = 0, stop_s = 0;
  int sample_rate = 0;
  std::vector<float> mono;  // stop - start samples in [-1, 1], the mean over all channels
};

struct AudioFileResult {
  bool skipped_short = false;  // fewer than 2 samples: no clips, not an error
  int sample_rate = 0;
  int channels = 0;
  int64_t num_samples = 0;
  int num_clips = 0;
  std::vector<std::pair<int64_t, int64_t>> ranges;  // clip [start, stop) in samples
  int stream_index = -1;
  std::string language;
};

// Decodes one audio stream (no audio_stream: FFmpeg's best audio stream, which is what
// torchaudio.load reads; for single-stream files that is the only one) to float at the native
// rate, averages all channels to mono ((c0 + c1 + ...) / C in float), and calls on_clip for each
// clip as soon as it is complete. Keeps only a rolling window of samples (the pending clip and
// the last int(T*sr) samples for the tail clip, decided at the end of the stream).
AudioFileResult decode_audio_clips(const std::string& path, std::optional<int> audio_stream, const AudioOptions& aopts,
                                   const MediaOptions& mopts, const ClipSink<AudioClipSamples>& sink);

// ---- stills (lssd-read report's thumbnails) -------------------------------------------------
struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // RGB24 packed: height rows of width * 3 bytes
};

struct VideoStill {
  RgbImage image;
  double pts_s = 0;  // the decoded frame's time (pts x time base)
};

// The frame of the container's first video stream that shows at `t_s` seconds on the stream's
// clock (pts x time base: the clock of the manifests' video clip ranges): the last frame whose
// pts is <= t_s, the first frame when t_s is before it, the last when t_s is past the end. The
// file is opened as every input is (file protocol, demuxer whitelist, opts.deadline_s,
// opts.decode_threads; AVFMT_FLAG_GENPTS), seeked to the keyframe at or before t_s and decoded
// forward from there. The frame is converted to RGB24 with swscale: at its own size exactly as
// the clips' frames are (decode_video_clips: PyAV's to_rgb()); scaled down (area averaging) to
// fit max_width x max_height when it is larger, keeping its display aspect ratio (the sample
// aspect ratio applied; 0: no limit; never scaled up). Throws lssd::Error("open"|"decode")
// naming the file: it cannot be opened, has no video stream, no decodable frame; a non-finite t_s.
VideoStill decode_video_still(const std::string& path, double t_s, const MediaOptions& opts, int max_width = 0,
                              int max_height = 0);

// `image` as a baseline JPEG file (FFmpeg's MJPEG encoder; 4:2:0 full-range YCbCr, BT.601).
// qscale: FFmpeg's -q:v, 2 (best) to 31. Throws lssd::Error("encode") for an empty image, a
// qscale out of range, or an FFmpeg without the encoder.
std::vector<uint8_t> encode_jpeg(const RgbImage& image, int qscale = 5);

}  // namespace lssd
