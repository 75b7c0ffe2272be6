// The two embedding kinds. Their names ("video", "audio") appear only in text: directory names
// under OUTPUT_DIR, manifest and error-log JSON, the command line.
#pragma once
#include <string>

namespace lssd {

enum class Modality { Video, Audio };

// "video" | "audio".
const char* to_string(Modality m);
// The modality named `name` ("video" | "audio"); false (and *m untouched) for any other text.
bool parse_modality(const std::string& name, Modality* m);

}  // namespace lssd
