// The browser page served at `/`, compiled in from page/index.html.
#pragma once

#include <string_view>

namespace framebus::serve {

[[nodiscard]] std::string_view index_page();

}  // namespace framebus::serve
