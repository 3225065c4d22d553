#include "segment_api.hpp"

#include "framebus/inspect.hpp"
#include "framebus/name.hpp"
#include "segment_json.hpp"

namespace framebus::serve {

std::string segments_json() {
    return cli::to_text(cli::ls_document(cli::list_and_inspect()));
}

Result<std::string> segment_json(const std::string& name) {
    auto view = inspect(name);
    const std::int64_t now = now_ns();
    if (!view) return view.error();
    return cli::to_text(cli::info_document(*view, now));
}

}  // namespace framebus::serve
