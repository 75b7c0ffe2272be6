// lssd_encoder_probe MODEL.pt INPUT.npy OUT.npy [--device D] [--precision P] [--threads N]
//                    [--batch-split K] [--lanes L] [--repeat R] [--warmup B]
// Runs lssd::Encoder on a float32 .npy of inputs ([N, input_shape...]) and writes [N, embed_dim].
// The whole input is one Encoder::forward call, as lssd-infer passes a batch. --batch-split K:
// EncoderOptions::cpu_micro_batch (module forwards of at most K inputs; 0, the default: all at
// once); --lanes L: EncoderOptions::cpu_lanes (0: lssd-infer's default, one per thread);
// --repeat R: run the whole input R times (timings; the output is the last run's); --warmup B:
// one warmup forward at batch B first. Prints one JSON line on stdout: info, load time, and each
// call's wall time and process CPU time in seconds. LSSD_JIT_EXECUTOR=profiling|legacy|simple picks the graph executor
// (encoder_runtime.cc).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lssd/encoder.h"
#include "lssd/error.h"
#include "lssd/logging.h"
#include "lssd/npy.h"

namespace {
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double cpu_s() {  // process CPU time (all threads): a load-independent cost measure
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
int usage() {
  std::cerr << "usage: lssd_encoder_probe MODEL.pt INPUT.npy OUT.npy [--device auto|cpu|cuda|cuda:N]\n"
               "       [--precision auto|fp32|fp16|bf16] [--threads N] [--batch-split K] [--repeat R]\n"
               "       [--warmup B]\n";
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  lssd::setup_logging(std::getenv("LSSD_PROBE_DEBUG") ? 1 : 0);  // stderr; stdout is the JSON report
  std::vector<std::string> pos;
  lssd::EncoderOptions opts;
  opts.device = "cpu";
  opts.precision = "fp32";
  int repeat = 1, warmup = 0;
  opts.cpu_micro_batch = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(usage());
      }
      return argv[++i];
    };
    if (a == "--device")
      opts.device = next();
    else if (a == "--precision")
      opts.precision = next();
    else if (a == "--threads")
      opts.threads = std::atoi(next().c_str());
    else if (a == "--batch-split")
      opts.cpu_micro_batch = std::max(0, std::atoi(next().c_str()));
    else if (a == "--lanes")
      opts.cpu_lanes = std::max(0, std::atoi(next().c_str()));
    else if (a == "--repeat")
      repeat = std::max(1, std::atoi(next().c_str()));
    else if (a == "--warmup")
      warmup = std::atoi(next().c_str());
    else if (a.rfind("--", 0) == 0)
      return usage();
    else
      pos.push_back(a);
  }
  if (pos.size() != 3) return usage();
  try {
    const lssd::FloatArray input = lssd::read_npy(pos[1]);
    if (input.shape.empty()) throw lssd::Error("probe", "input has no batch dimension", pos[1]);
    const double t0 = now_s();
    lssd::Encoder enc(pos[0], opts);
    const double load_s = now_s() - t0;
    const auto& info = enc.info();
    const int64_t n = input.shape[0];
    const int64_t k = opts.cpu_micro_batch > 0 ? opts.cpu_micro_batch : std::max<int64_t>(n, 1);

    double warm_s = 0;
    if (warmup > 0) {
      const double tw = now_s();
      enc.warmup(warmup);
      warm_s = now_s() - tw;
    }
    lssd::FloatArray out;
    std::vector<double> times, cpu_times;
    for (int r = 0; r < repeat; ++r) {
      const double tf = now_s(), cf = cpu_s();
      out = enc.forward({&input});
      times.push_back(now_s() - tf);
      cpu_times.push_back(cpu_s() - cf);
    }
    lssd::write_npy(pos[2], out);
    nlohmann::json j = {{"device", info.device},
                        {"precision", info.precision},
                        {"modality", lssd::to_string(info.modality)},
                        {"size", info.size},
                        {"variant", info.variant},
                        {"random_weights", info.random_weights},
                        {"file_sha256", info.file_sha256},
                        {"load_s", load_s},
                        {"warmup_s", warm_s},
                        {"forward_s", times},
                        {"forward_cpu_s", cpu_times},
                        {"batch", k},
                        {"n", n}};
    std::cout << j.dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "lssd_encoder_probe: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
