// /api/segments and /api/segments/NAME: the documents of `framebus ls --json`
// and `framebus info --json` (tools/JSON.md), one schema for both.
#pragma once

#include <string>

#include "framebus/error.hpp"

namespace framebus::serve {

[[nodiscard]] std::string segments_json();                                // framebus.ls/1
[[nodiscard]] Result<std::string> segment_json(const std::string& name);  // framebus.info/1

}  // namespace framebus::serve
