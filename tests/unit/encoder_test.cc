// Encoder stage and sha256. The TorchScript modules are made at test time by LSSD_PYTHON (the
// CMake cache variable; default /usr/bin/python3, with torch): a scripted tanh -> flatten ->
// Linear(24, 768) on inputs [1,4,6], saved with and without the embedded lssd_meta.json.
#include "lssd/encoder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "lssd/error.h"
#include "lssd/sha256.h"

namespace fs = std::filesystem;

namespace {

const char* kMakeModels = R"PY(
import json, sys, torch
out = sys.argv[1]
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(24, 768)
    def forward(self, x):
        return self.lin(torch.tanh(x).reshape(x.shape[0], -1))
class Bf16(M):
    # As a fast export: a bf16 method on bf16 weight copies that the export leaves empty.
    def __init__(self):
        super().__init__()
        for name in ("weight", "bias"):
            self.lin.register_buffer(name + "_bf16", torch.empty(0, dtype=torch.bfloat16), persistent=False)
    @torch.jit.export
    def forward_bf16(self, x):
        h = torch.tanh(x).reshape(x.shape[0], -1).to(torch.bfloat16)
        return torch.nn.functional.linear(h, self.lin.weight_bf16, self.lin.bias_bf16).float()
class Pair(torch.nn.Module):
    def forward(self, x):
        return x, x
torch.manual_seed(0)
m = torch.jit.script(M().eval())
meta = {"format": "lssd-encoder", "format_version": 1, "modality": "audio", "size": "S",
        "patch_overlap": False, "variant": "tiny", "input_shape": [1, 4, 6], "embed_dim": 768,
        "preprocessing": {}, "checkpoint_sha256": "abc123", "exporter_version": "test",
        "random_weights": True, "seed": 7}
torch.jit.save(m, out + "/ok.pt", _extra_files={"lssd_meta.json": json.dumps(meta)})
torch.jit.save(m, out + "/nometa.pt")
bad = dict(meta); bad["format"] = "something-else"
torch.jit.save(m, out + "/badformat.pt", _extra_files={"lssd_meta.json": json.dumps(bad)})
bad = dict(meta); del bad["input_shape"]
torch.jit.save(m, out + "/noshape.pt", _extra_files={"lssd_meta.json": json.dumps(bad)})
torch.jit.save(m, out + "/notjson.pt", _extra_files={"lssd_meta.json": "{not json"})
torch.manual_seed(0)
b = torch.jit.script(Bf16().eval())
torch.jit.save(b, out + "/bf16.pt", _extra_files={"lssd_meta.json": json.dumps(meta)})
p = torch.jit.script(Pair())
torch.jit.save(p, out + "/pair.pt", _extra_files={"lssd_meta.json": json.dumps(meta)})
x = torch.linspace(-2, 2, 24 * 3).reshape(3, 1, 4, 6)
with torch.no_grad():
    y = m(x)
open(out + "/ref.bin", "wb").write(y.contiguous().numpy().tobytes())
b.lin.weight_bf16 = b.lin.weight.detach().to(torch.bfloat16)
b.lin.bias_bf16 = b.lin.bias.detach().to(torch.bfloat16)
with torch.no_grad():
    y16 = b.forward_bf16(x)
open(out + "/ref_bf16.bin", "wb").write(y16.contiguous().numpy().tobytes())
)PY";

class EncoderTest : public ::testing::Test {
 protected:
  // The models are made once per build tree (ctest runs every test in its own process) in a
  // folder named by the script's hash, created atomically (temporary folder + rename).
  static void SetUpTestSuite() {
    const fs::path root = fs::path(LSSD_BINARY_DIR) / "test_tmp";
    dir_ = new fs::path(root / ("encoder_models_" + lssd::sha256_hex(kMakeModels).substr(0, 12)));
    ok_ = fs::exists(*dir_ / "ref.bin");
    if (ok_) return;
    const fs::path tmp = root / ("encoder_models.tmp." + std::to_string(::getpid()));
    fs::create_directories(tmp);
    std::ofstream((tmp / "make.py").string()) << kMakeModels;
    const std::string cmd =
        std::string(LSSD_PYTHON) + " " + (tmp / "make.py").string() + " " + tmp.string() + " > /dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0 && fs::exists(tmp / "ref.bin")) {
      std::error_code ec;
      fs::rename(tmp, *dir_, ec);  // fails harmlessly when a parallel test got there first
    }
    std::error_code ec;
    fs::remove_all(tmp, ec);
    ok_ = fs::exists(*dir_ / "ref.bin");
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override { ASSERT_TRUE(ok_) << "could not make test models with " LSSD_PYTHON " + torch"; }
  static std::string model(const char* name) { return (*dir_ / name).string(); }
  static lssd::EncoderOptions cpu_opts() {
    lssd::EncoderOptions o;
    o.device = "cpu";
    o.precision = "fp32";
    o.threads = 1;
    return o;
  }
  static lssd::FloatArray inputs(int64_t n) {  // the same values as ref.bin's inputs (n <= 3)
    lssd::FloatArray a({n, 1, 4, 6});
    for (size_t i = 0; i < a.numel(); ++i) a.data[i] = -2.0f + 4.0f * static_cast<float>(i) / (24 * 3 - 1);
    return a;
  }
  static lssd::FloatArray item(const lssd::FloatArray& stack, int64_t k) {
    lssd::FloatArray a({1, 4, 6});
    std::copy(stack.data.begin() + k * 24, stack.data.begin() + (k + 1) * 24, a.data.begin());
    return a;
  }
  static fs::path* dir_;
  static bool ok_;
};
fs::path* EncoderTest::dir_ = nullptr;
bool EncoderTest::ok_ = false;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const lssd::Error& e) {
    EXPECT_EQ(e.stage(), "encoder");
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an lssd::Error: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(lssd::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(lssd::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(lssd::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(lssd::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // 55, 56, 63, 64, 65 bytes: the padding boundaries.
  EXPECT_EQ(lssd::sha256_hex(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(lssd::sha256_hex(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(lssd::sha256_hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256, ChunkedEqualsWhole) {
  std::string data(10007, '\0');
  std::mt19937 rng(1);
  for (auto& c : data) c = static_cast<char>(rng());
  const std::string whole = lssd::sha256_hex(data);
  for (size_t chunk : {1u, 3u, 63u, 64u, 65u, 1000u}) {
    lssd::Sha256 s;
    for (size_t i = 0; i < data.size(); i += chunk) s.update(data.data() + i, std::min(chunk, data.size() - i));
    EXPECT_EQ(s.hex_digest(), whole) << chunk;
  }
  const fs::path p = fs::temp_directory_path() / ("lssd_sha_" + std::to_string(::getpid()));
  std::ofstream(p, std::ios::binary) << data;
  EXPECT_EQ(lssd::sha256_file(p.string()), whole);
  fs::remove(p);
  EXPECT_THROW(lssd::sha256_file("/nonexistent/lssd/file"), lssd::Error);
}

TEST_F(EncoderTest, ReadInfo) {
  const lssd::EncoderInfo info = lssd::read_encoder_info(model("ok.pt"));
  EXPECT_EQ(info.modality, lssd::Modality::Audio);
  EXPECT_EQ(info.size, "S");
  EXPECT_EQ(info.variant, "tiny");
  EXPECT_FALSE(info.patch_overlap);
  EXPECT_TRUE(info.random_weights);
  EXPECT_EQ(info.input_shape, (std::vector<int64_t>{1, 4, 6}));
  EXPECT_EQ(info.embed_dim, 768);
  EXPECT_EQ(info.checkpoint_sha256, "abc123");
  EXPECT_EQ(info.file_sha256, lssd::sha256_file(model("ok.pt")));
  EXPECT_EQ(info.file_sha256.size(), 64u);
  EXPECT_TRUE(contains(info.meta_json, "\"lssd-encoder\""));
  EXPECT_TRUE(info.device.empty());

  lssd::Encoder enc(model("ok.pt"), cpu_opts());
  EXPECT_EQ(enc.info().device, "cpu");
  EXPECT_EQ(enc.info().precision, "fp32");
  EXPECT_EQ(enc.info().file_sha256, info.file_sha256);
  EXPECT_EQ(enc.info().input_shape, info.input_shape);
}

TEST_F(EncoderTest, MetadataErrors) {
  for (const char* name : {"nometa.pt"}) {
    const std::string e1 = error_of([&] { lssd::read_encoder_info(model(name)); });
    EXPECT_TRUE(contains(e1, "lssd_meta.json")) << e1;
    EXPECT_TRUE(contains(e1, model(name))) << e1;
    const std::string e2 = error_of([&] { lssd::Encoder(model(name), cpu_opts()); });
    EXPECT_TRUE(contains(e2, "lssd_meta.json")) << e2;
  }
  EXPECT_TRUE(contains(error_of([&] { lssd::Encoder(model("badformat.pt"), cpu_opts()); }), "something-else"));
  EXPECT_TRUE(contains(error_of([&] { lssd::read_encoder_info(model("noshape.pt")); }), "input_shape"));
  EXPECT_TRUE(contains(error_of([&] { lssd::read_encoder_info(model("notjson.pt")); }), "not JSON"));
  // Not a TorchScript file at all / missing file.
  const fs::path junk = fs::temp_directory_path() / ("lssd_junk_" + std::to_string(::getpid()) + ".pt");
  std::ofstream(junk) << "hello";
  EXPECT_TRUE(contains(error_of([&] { lssd::read_encoder_info(junk.string()); }), "TorchScript"));
  EXPECT_TRUE(contains(error_of([&] { lssd::Encoder(junk.string(), cpu_opts()); }), "TorchScript"));
  fs::remove(junk);
  EXPECT_TRUE(contains(error_of([&] { lssd::Encoder(model("missing.pt"), cpu_opts()); }), "not found"));
  EXPECT_TRUE(contains(error_of([&] { lssd::read_encoder_info(model("missing.pt")); }), "not found"));
  // ... and says how to make it: the export command, into the file's folder.
  const std::string missing = error_of([&] { lssd::read_encoder_info("models/B3/video.pt"); });
  EXPECT_TRUE(contains(missing, "tools/lssd_export.py --checkpoint CHECKPOINT.pyth --out-dir models/B3")) << missing;
  EXPECT_TRUE(contains(missing, "Released models")) << missing;
}

TEST_F(EncoderTest, WrongInputShapeNamesBothShapes) {
  lssd::Encoder enc(model("ok.pt"), cpu_opts());
  lssd::FloatArray bad({1, 4, 7});
  const std::string e = error_of([&] { enc.forward({&bad}); });
  EXPECT_TRUE(contains(e, "[1,4,7]")) << e;
  EXPECT_TRUE(contains(e, "[1,4,6]")) << e;
  lssd::FloatArray bad2({2, 2, 4, 6});
  EXPECT_TRUE(contains(error_of([&] { enc.forward({&bad2}); }), "[2,2,4,6]"));
  lssd::FloatArray short_data({1, 4, 6});
  short_data.data.pop_back();
  EXPECT_TRUE(contains(error_of([&] { enc.forward({&short_data}); }), "values"));
}

TEST_F(EncoderTest, DeviceAndPrecisionErrors) {
  lssd::EncoderOptions o = cpu_opts();
  o.device = "tpu";
  EXPECT_TRUE(contains(error_of([&] { lssd::Encoder(model("ok.pt"), o); }), "tpu"));
  o.device = "cuda:x";
  error_of([&] { lssd::Encoder(model("ok.pt"), o); });
  o.device = "cpu";
  o.precision = "fp8";
  EXPECT_TRUE(contains(error_of([&] { lssd::Encoder(model("ok.pt"), o); }), "fp8"));
  o.precision = "fp16";
  EXPECT_TRUE(contains(error_of([&] { lssd::Encoder(model("ok.pt"), o); }), "CUDA"));
  if (lssd::cuda_device_count() == 0) {
    for (const char* dev : {"cuda", "cuda:0", "cuda:1"}) {
      o.device = dev;
      o.precision = "auto";
      const std::string e = error_of([&] { lssd::Encoder(model("ok.pt"), o); });
      EXPECT_TRUE(contains(e, "CUDA")) << e;
      EXPECT_TRUE(contains(e, dev)) << e;
    }
    o.device = "auto";
    lssd::Encoder enc(model("ok.pt"), o);
    EXPECT_EQ(enc.info().device, "cpu");
    EXPECT_EQ(enc.info().precision, "fp32");
  } else {
    o.device = "cuda:" + std::to_string(lssd::cuda_device_count());
    o.precision = "auto";
    EXPECT_TRUE(contains(error_of([&] { lssd::Encoder(model("ok.pt"), o); }), "visible"));
  }
}

TEST_F(EncoderTest, ForwardMatchesPythonAndIsBatchConsistent) {
  lssd::Encoder enc(model("ok.pt"), cpu_opts());
  std::vector<float> ref(3 * 768);
  std::ifstream((*dir_ / "ref.bin").string(), std::ios::binary)
      .read(reinterpret_cast<char*>(ref.data()), ref.size() * 4);

  const lssd::FloatArray x3 = inputs(3);
  const lssd::FloatArray y3 = enc.forward({&x3});
  ASSERT_EQ(y3.shape, (std::vector<int64_t>{3, 768}));
  float max_py = 0;
  for (size_t i = 0; i < ref.size(); ++i) max_py = std::max(max_py, std::abs(y3.data[i] - ref[i]));
  EXPECT_LE(max_py, 1e-6f);

  // Three single items, and a stack of 2 plus a single, give the same rows.
  std::vector<lssd::FloatArray> singles{item(x3, 0), item(x3, 1), item(x3, 2)};
  const lssd::FloatArray y1 = enc.forward({&singles[0], &singles[1], &singles[2]});
  lssd::FloatArray x2({2, 1, 4, 6});
  std::copy(x3.data.begin(), x3.data.begin() + 48, x2.data.begin());
  const lssd::FloatArray ymix = enc.forward({&x2, &singles[2]});
  float max_b = 0;
  for (int k = 0; k < 3; ++k) {
    const lssd::FloatArray one = enc.forward({&singles[k]});
    ASSERT_EQ(one.shape, (std::vector<int64_t>{1, 768}));
    for (int j = 0; j < 768; ++j) {
      max_b = std::max(max_b, std::abs(one.data[j] - y3.data[k * 768 + j]));
      max_b = std::max(max_b, std::abs(y1.data[k * 768 + j] - y3.data[k * 768 + j]));
      max_b = std::max(max_b, std::abs(ymix.data[k * 768 + j] - y3.data[k * 768 + j]));
    }
  }
  EXPECT_LE(max_b, 1e-6f);
  // Empty input: [0,768].
  EXPECT_EQ(enc.forward({}).shape, (std::vector<int64_t>{0, 768}));
  enc.warmup(2);
}

TEST_F(EncoderTest, CpuBf16Autocast) {
  lssd::EncoderOptions o = cpu_opts();
  o.precision = "bf16";
  lssd::Encoder bf(model("ok.pt"), o);
  EXPECT_EQ(bf.info().precision, "bf16");
  lssd::Encoder fp(model("ok.pt"), cpu_opts());
  const lssd::FloatArray x = inputs(3);
  const lssd::FloatArray a = fp.forward({&x}), b = bf.forward({&x});
  double dot = 0, na = 0, nb = 0, maxd = 0;
  for (size_t i = 0; i < a.numel(); ++i) {
    dot += double(a.data[i]) * b.data[i];
    na += double(a.data[i]) * a.data[i];
    nb += double(b.data[i]) * b.data[i];
    maxd = std::max(maxd, double(std::abs(a.data[i] - b.data[i])));
  }
  EXPECT_GE(dot / std::sqrt(na * nb), 0.999);
  EXPECT_GT(maxd, 0.0) << "bf16 autocast had no effect";
  // The fp32 encoder is unaffected afterwards (autocast state restored).
  const lssd::FloatArray a2 = fp.forward({&x});
  EXPECT_EQ(a.data, a2.data);
}

// A module with the fast exports' bf16 method: CPU bf16 runs it on the weight copies that the
// encoder fills (Python's result on the same copies), fp32 and auto run forward, bit for bit alike.
TEST_F(EncoderTest, CpuBf16Method) {
  std::vector<float> ref(3 * 768), ref16(3 * 768);
  std::ifstream((*dir_ / "ref.bin").string(), std::ios::binary)
      .read(reinterpret_cast<char*>(ref.data()), ref.size() * 4);
  std::ifstream((*dir_ / "ref_bf16.bin").string(), std::ios::binary)
      .read(reinterpret_cast<char*>(ref16.data()), ref16.size() * 4);
  lssd::EncoderOptions o = cpu_opts();
  const lssd::FloatArray x = inputs(3);
  o.precision = "bf16";
  const lssd::FloatArray b = lssd::Encoder(model("bf16.pt"), o).forward({&x});
  o.precision = "fp32";
  const lssd::FloatArray a = lssd::Encoder(model("bf16.pt"), o).forward({&x});
  o.precision = "auto";
  const lssd::FloatArray a2 = lssd::Encoder(model("bf16.pt"), o).forward({&x});
  EXPECT_EQ(a.data, a2.data);
  float max16 = 0, max32 = 0, maxd = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max16 = std::max(max16, std::abs(b.data[i] - ref16[i]));
    max32 = std::max(max32, std::abs(a.data[i] - ref[i]));
    maxd = std::max(maxd, std::abs(a.data[i] - b.data[i]));
  }
  EXPECT_LE(max16, 1e-6f);
  EXPECT_LE(max32, 1e-6f);
  EXPECT_GT(maxd, 0.0f) << "bf16 ran the float32 forward";
}

TEST_F(EncoderTest, BadModuleOutput) {
  lssd::Encoder enc(model("pair.pt"), cpu_opts());
  const lssd::FloatArray x = inputs(1);
  const std::string e = error_of([&] { enc.forward({&x}); });
  EXPECT_TRUE(contains(e, "expected a tensor")) << e;
}

TEST_F(EncoderTest, ForwardFromAnotherThread) {
  lssd::Encoder enc(model("ok.pt"), cpu_opts());
  const lssd::FloatArray x = inputs(3);
  const lssd::FloatArray a = enc.forward({&x});
  lssd::FloatArray b;
  std::thread t([&] { b = enc.forward({&x}); });
  t.join();
  EXPECT_EQ(a.data, b.data);
}
