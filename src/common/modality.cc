#include "lssd/modality.h"

namespace lssd {

const char* to_string(Modality m) { return m == Modality::Video ? "video" : "audio"; }

bool parse_modality(const std::string& name, Modality* m) {
  if (name != "video" && name != "audio") return false;
  *m = name == "video" ? Modality::Video : Modality::Audio;
  return true;
}

}  // namespace lssd
