// The release's <mtype>.pt: the only reader code that uses LibTorch (torch::pickle_save /
// torch::pickle_load read and write the zip format of Python's torch.save).
#include <torch/script.h>
#include <torch/serialize.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "lssd/error.h"
#include "lssd/npy.h"
#include "lssd/reader.h"

namespace lssd {
namespace release_io {

FloatArray load_pt_tensor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("read", std::string("cannot open: ") + std::strerror(errno), path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  at::Tensor t;
  try {
    c10::IValue v = torch::pickle_load(bytes);
    if (!v.isTensor()) throw Error("read", "expected a tensor, found " + v.tagKind(), path);
    t = v.toTensor();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    throw Error("read", "not a readable torch.save file: " + what, path);
  }
  if (!t.is_floating_point()) throw Error("read", "tensor is not floating point", path);
  t = t.to(torch::kFloat32).contiguous();
  FloatArray a;
  a.shape.assign(t.sizes().begin(), t.sizes().end());
  a.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  return a;
}

void save_pt_tensor(const std::string& path, const FloatArray& a) {
  at::Tensor t = torch::from_blob(const_cast<float*>(a.data.data()), a.shape, torch::kFloat32).clone();
  std::vector<char> bytes = torch::pickle_save(t);
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace release_io
}  // namespace lssd
