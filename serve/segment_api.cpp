// Stand-in until the CLI's JSON is a library (wt-debts, "tools: segment JSON
// as a library"): the fields of framebus.ls/1 the page uses, by the same names.
#include "segment_api.hpp"

#include <nlohmann/json.hpp>

#include "framebus/inspect.hpp"
#include "framebus/name.hpp"

namespace framebus::serve {

namespace {

nlohmann::json segment_entry(const std::string& name) {
    nlohmann::json entry = {{"name", name}, {"path", segment_path(name)}};
    auto view = inspect(name);
    if (!view) {
        entry["state"] = "corrupt";
        entry["error"] = view.error().message;
        return entry;
    }
    const SlotView* newest = nullptr;
    for (const SlotView& slot : view->slots)
        if (!slot.writing && slot.sequence != 0 &&
            (newest == nullptr || slot.sequence > newest->sequence))
            newest = &slot;
    entry["state"] = !view->writer_alive ? "stale" : "live";
    entry["error"] = nullptr;
    if (newest != nullptr) {
        entry["width"] = newest->format.width;
        entry["height"] = newest->format.height;
        entry["pixel_format"] = to_string(newest->format.pixel_format);
    }
    std::uint32_t readers = 0;
    for (const ReaderView& reader : view->readers) readers += reader.alive ? 1 : 0;
    entry["readers_attached"] = readers;
    entry["last_sequence"] = view->latest_sequence;
    entry["writer_pid"] = view->writer_pid;
    entry["fps"] = nullptr;
    return entry;
}

}  // namespace

std::string segments_json() {
    nlohmann::json segments = nlohmann::json::array();
    for (const std::string& name : list_segments()) segments.push_back(segment_entry(name));
    return nlohmann::json{{"schema", "framebus.ls/1"}, {"segments", segments}}.dump(2) + "\n";
}

Result<std::string> segment_json(const std::string& name) {
    auto view = inspect(name);
    if (!view) return view.error();
    return nlohmann::json(segment_entry(name)).dump(2) + "\n";
}

}  // namespace framebus::serve
