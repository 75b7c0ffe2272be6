// Private to the config stage (src/config/): literal parsing and type conversion (config_value.cc).
#pragma once
#include <string>

#include "lssd/config_keys.h"

namespace lssd::config_detail {

// The value of `literal` (yacs literal syntax: True, 8, 3.0, "S", [224, 224], None) as the
// declared type of `spec`. Throws ConfigError ("wrong type for KEY: expected ..., got ...") when
// the text is not of that type, is malformed, or is a non-finite float.
ConfigValue convert(const KeySpec& spec, const std::string& literal);

}  // namespace lssd::config_detail
