// The two embedding kinds. Their names ("video", "audio") appear only in text: directory names
// under OUTPUT_DIR, manifest and error-log JSON, the command line.
#pragma once
#include <string>

namespace lssd {

enum class Modality { Video, Audio };

// Both, video first (the order of outputs, tables and loops).
inline constexpr Modality kModalities[] = {Modality::Video, Modality::Audio};

// "video" | "audio".
const char* to_string(Modality m);
// The modality named `name` ("video" | "audio"); false (and *m untouched) for any other text.
bool parse_modality(const std::string& name, Modality* m);

// One value per modality, indexed by Modality: counts, files, queues of each kind.
template <class T>
struct PerModality {
  T video{}, audio{};
  T& operator[](Modality m) { return m == Modality::Video ? video : audio; }
  const T& operator[](Modality m) const { return m == Modality::Video ? video : audio; }
};

}  // namespace lssd
