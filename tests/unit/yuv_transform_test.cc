// The YUV -> RGB conversion and clip transform as LibTorch ops (src/transform/yuv_torch.h, the
// code a GPU runs on NVDEC's frames), on CPU tensors against today's path: swscale's to_rgb()
// (media::RgbConverter) and VideoTransform. Every frame of every sample video and of files
// written here by other encoders (full range, BT.709 tags, MJPEG, MPEG-4 ASP at an odd chroma
// width) converts within 1 (of 255; bit-exact on x86, where swscale's SIMD converter runs); a
// BT.709 matrix or interpolated chroma does not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/device_tensor.h"
#include "lssd/video_transform.h"
#include "media/ffmpeg.h"
#include "media/rgb_convert.h"
#include "temp_dir.h"

namespace lssd {
namespace {

namespace fs = std::filesystem;

YuvFrame420 planes_of(const AVFrame* f) {
  YuvFrame420 out;
  out.width = f->width;
  out.height = f->height;
  out.full_range = f->format == AV_PIX_FMT_YUVJ420P;
  auto copy = [&](int plane, int w, int h, std::vector<uint8_t>* dst) {
    for (int y = 0; y < h; ++y)
      dst->insert(dst->end(), f->data[plane] + static_cast<ptrdiff_t>(y) * f->linesize[plane],
                  f->data[plane] + static_cast<ptrdiff_t>(y) * f->linesize[plane] + w);
  };
  copy(0, f->width, f->height, &out.y);
  copy(1, (f->width + 1) / 2, (f->height + 1) / 2, &out.u);
  copy(2, (f->width + 1) / 2, (f->height + 1) / 2, &out.v);
  return out;
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int m = a.size() == b.size() ? 0 : 256;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(int{a[i]} - int{b[i]}));
  return m;
}

// Per file: the worst frame of each conversion against swscale's, and how many frames.
struct FileDiffs {
  int frames = 0, skipped = 0;  // skipped: not 8-bit 4:2:0 of even height
  int bt601 = 0, bt709 = 0, bilinear = 0;
  float tensor = 0;  // max |diff| of one 16-frame clip tensor (the file's first 16 frames)
};

FileDiffs compare_file(const std::string& path) {
  media::Deadline deadline(0);
  media::FormatPtr ctx = media::open_input(path, &deadline, /*genpts=*/true);
  const int index = media::first_video_stream(ctx.get());
  EXPECT_GE(index, 0) << path;
  media::discard_all_but(ctx.get(), index);
  MediaOptions mopts;
  mopts.decode_threads = 1;
  media::CodecPtr cc = media::open_decoder(ctx->streams[index], mopts, path);
  media::RgbConverter sws;
  FileDiffs d;
  std::vector<std::vector<uint8_t>> rgb_clip;
  std::vector<YuvFrame420> yuv_clip;
  media::decode_stream(ctx.get(), cc.get(), index, deadline, path, [&](const AVFrame* f) {
    const auto fmt = static_cast<AVPixelFormat>(f->format);
    if ((fmt != AV_PIX_FMT_YUV420P && fmt != AV_PIX_FMT_YUVJ420P) || f->height % 2) {
      ++d.skipped;
      return;
    }
    ++d.frames;
    const std::vector<uint8_t> want = sws.convert(f, path);
    const YuvFrame420 planes = planes_of(f);
    d.bt601 = std::max(d.bt601, max_abs_diff(yuv420_to_rgb24(planes), want));
    d.bt709 = std::max(d.bt709, max_abs_diff(yuv420_to_rgb24(planes, {YuvMatrix::kBt709}), want));
    d.bilinear = std::max(
        d.bilinear, max_abs_diff(yuv420_to_rgb24(planes, {YuvMatrix::kBt601, ChromaUpsampling::kBilinear}), want));
    if (rgb_clip.size() < 16) {
      rgb_clip.push_back(want);
      yuv_clip.push_back(planes);
    }
  });
  if (!rgb_clip.empty()) {
    const VideoOptions vopts;
    const FloatArray a = video_clip_tensor(rgb_clip, yuv_clip[0].width, yuv_clip[0].height, vopts);
    const FloatArray b = yuv420_clip_tensor(yuv_clip, vopts);
    EXPECT_EQ(a.shape, b.shape) << path;
    for (size_t i = 0; i < std::min(a.numel(), b.numel()); ++i)
      d.tensor = std::max(d.tensor, std::abs(a.data[i] - b.data[i]));
  }
  return d;
}

std::vector<std::string> sample_videos() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(std::string(LSSD_SOURCE_DIR) + "/sample_data/video")) {
    const std::string p = e.path().string();
    if (e.is_regular_file() && e.path().extension() != ".md" && p.find("broken") == std::string::npos) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Files of other encoders and colour settings, written with the ffmpeg program (tools/setup.sh
// installs it with the test dependencies).
std::vector<std::string> generated_videos() {
  const fs::path dir = test::temp_dir("yuv_transform", "encoders");
  const std::string src = "-f lavfi -i testsrc2=size=%s:rate=25:duration=1.2 ";
  struct Spec {
    const char* name;
    const char* size;
    const char* args;
  };
  const Spec specs[] = {
      {"x264_full_range.mp4", "320x240", "-pix_fmt yuvj420p -c:v libx264"},
      {"x264_bt709_tags.mkv", "352x288",
       "-pix_fmt yuv420p -colorspace bt709 -color_primaries bt709 -color_trc bt709 -c:v libx264"},
      {"mjpeg_full_range.avi", "320x240", "-pix_fmt yuvj420p -c:v mjpeg -q:v 3"},
      {"xvid_like_odd_chroma.avi", "330x246", "-pix_fmt yuv420p -c:v mpeg4 -vtag XVID -bf 2 -q:v 4"},
  };
  std::vector<std::string> out;
  for (const Spec& s : specs) {
    char source[128];
    std::snprintf(source, sizeof(source), src.c_str(), s.size);
    const std::string file = (dir / s.name).string();
    const std::string cmd = "ffmpeg -nostdin -loglevel error -y " + std::string(source) + s.args + " " + file;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    out.push_back(file);
  }
  return out;
}

TEST(YuvTransform, EveryFrameOfEveryVideoIsWithinOneOfSwscaleAndAMismatchIsNot) {
  std::vector<std::string> files = sample_videos();
  for (const auto& f : generated_videos()) files.push_back(f);
  int frames = 0, worst = 0;
  float worst_tensor = 0;
  for (const auto& path : files) {
    const FileDiffs d = compare_file(path);
    std::printf("%-60s %4d frames (%d not 4:2:0): max |diff| BT.601 %d, BT.709 %d, bilinear chroma %d; tensor %.3g\n",
                fs::path(path).filename().c_str(), d.frames, d.skipped, d.bt601, d.bt709, d.bilinear, d.tensor);
    frames += d.frames;
    worst = std::max(worst, d.bt601);
    worst_tensor = std::max(worst_tensor, d.tensor);
    EXPECT_LE(d.bt601, 1) << path;
    if (d.frames > 0) {
      EXPECT_GT(d.bt709, 1) << path << ": a BT.709 conversion would pass unnoticed";
      EXPECT_GT(d.bilinear, 1) << path << ": interpolated chroma would pass unnoticed";
    }
    // The same RGB: torch's interpolate against VideoTransform's (float rounding only: 1.5e-5 and
    // 3e-5 with LibTorch 2.6's kernels; one RGB level is 1/255/std, about 0.017 after normalising).
    EXPECT_LE(d.tensor, 1e-4f) << path;
  }
  std::printf("%d frames, worst max |diff| %d of 255, worst clip tensor max |diff| %.3g\n", frames, worst,
              worst_tensor);
  EXPECT_GT(frames, 1000);
}

TEST(YuvTransform, GreyLevelsMapAsTheRangeSays) {
  YuvFrame420 f;
  f.width = 4;
  f.height = 2;
  f.y = {16, 235, 0, 255, 16, 235, 0, 255};
  f.u = {128, 128};
  f.v = {128, 128};
  EXPECT_EQ(yuv420_to_rgb24(f), (std::vector<uint8_t>{0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255,
                                                      0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255}));
  f.full_range = true;
  EXPECT_EQ(yuv420_to_rgb24(f), (std::vector<uint8_t>{16, 16, 16, 235, 235, 235, 0, 0, 0, 255, 255, 255,
                                                      16, 16, 16, 235, 235, 235, 0, 0, 0, 255, 255, 255}));
}

TEST(YuvTransform, PlanesThatDoNotFitTheSizeAreRefused) {
  YuvFrame420 f;
  f.width = 4;
  f.height = 2;
  f.y.assign(8, 16);
  f.u.assign(1, 128);
  f.v.assign(2, 128);
  EXPECT_THROW(yuv420_to_rgb24(f), Error);
  f.u.assign(2, 128);
  const std::vector<YuvFrame420> mixed{f, YuvFrame420{}};
  EXPECT_THROW(yuv420_clip_tensor(mixed, VideoOptions{}), Error);
}

// The NVDEC path's layout (one NV12 tensor per frame: Y rows, then UV interleaved), here with CPU
// tensors: the same tensor as from the planes.
TEST(YuvTransform, Nv12ClipTensorsAreThePlanesClipTensors) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  const int w = 48, h = 36, t = 3;
  VideoClipFrames clip;
  clip.width = w;
  clip.height = h;
  clip.nv12_full_range = true;
  std::vector<YuvFrame420> planes;
  for (int k = 0; k < t; ++k) {
    YuvFrame420 f;
    f.width = w;
    f.height = h;
    f.full_range = true;
    for (int i = 0; i < w * h; ++i) f.y.push_back(static_cast<uint8_t>(byte(rng)));
    for (int i = 0; i < w * h / 4; ++i) f.u.push_back(static_cast<uint8_t>(byte(rng)));
    for (int i = 0; i < w * h / 4; ++i) f.v.push_back(static_cast<uint8_t>(byte(rng)));
    auto d = std::make_shared<DeviceTensor>();
    d->tensor = torch::empty({h + h / 2, w}, torch::kUInt8);
    std::copy(f.y.begin(), f.y.end(), d->tensor.data_ptr<uint8_t>());
    uint8_t* uv = d->tensor.data_ptr<uint8_t>() + w * h;
    for (int i = 0; i < w * h / 4; ++i) {
      uv[2 * i] = f.u[static_cast<size_t>(i)];
      uv[2 * i + 1] = f.v[static_cast<size_t>(i)];
    }
    clip.nv12.push_back(d);
    planes.push_back(std::move(f));
  }
  VideoOptions vopts;
  vopts.short_side = 32;
  vopts.crop_h = vopts.crop_w = 24;
  const FloatArray want = yuv420_clip_tensor(planes, vopts);
  const FloatArray got = nv12_clip_tensor(clip, vopts);
  ASSERT_TRUE(got.device);
  EXPECT_TRUE(got.data.empty());
  ASSERT_EQ(got.shape, want.shape);
  const at::Tensor g = got.device->tensor.contiguous();
  EXPECT_TRUE(std::equal(want.data.begin(), want.data.end(), g.data_ptr<float>()));
  clip.nv12.clear();
  EXPECT_THROW(nv12_clip_tensor(clip, vopts), Error);
}

}  // namespace
}  // namespace lssd
