// The documents of `framebus ls --json` and `framebus info NAME --json`
// (schemas in tools/JSON.md), as a library so that every program serving
// them (the CLI, the preview server's /api/segments) says the same thing.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "framebus/error.hpp"
#include "framebus/inspect.hpp"

namespace framebus::cli {

// One segment as ls reports it: a valid snapshot, or why it is not one.
struct ListedSegment {
    std::string name;
    std::optional<SegmentView> view;  // set, or `error` is
    std::optional<Error> error;
    std::int64_t taken_ns = 0;  // when the snapshot was taken (now_ns())
    std::optional<double> fps;  // unknown until measured
};

// Every framebus segment in /dev/shm by name, each inspected once, with the
// frame rate counted from the ring (no waiting). Segments removed while
// being listed are left out.
[[nodiscard]] std::vector<ListedSegment> list_and_inspect();

// Replaces the ring's frame rate by frames counted between the snapshots
// already taken and new ones `sample_seconds` later (sleeps that long when
// any writer is publishing). No-op for sample_seconds <= 0.
void sample_fps(std::vector<ListedSegment>& listed, double sample_seconds);

// "incompatible" for segments of another layout version (the error says
// which and what to do), "corrupt" for segments that fail validation,
// "unreadable" for errors that say nothing about the segment (permissions, I/O).
[[nodiscard]] const char* error_state(const Error& error);

// The framebus.ls document. `sample_seconds` says how `fps` was measured:
// 0 for the ring, else the window given to sample_fps().
[[nodiscard]] nlohmann::ordered_json ls_document(const std::vector<ListedSegment>& listed,
                                                 double sample_seconds = 0);
// The framebus.info document of one snapshot taken at `now` (now_ns()).
[[nodiscard]] nlohmann::ordered_json info_document(const SegmentView& view, std::int64_t now);

// A document as printed: pretty (2 spaces), UTF-8, newline-terminated; bytes
// that are not valid UTF-8 (a corrupt segment's message) become U+FFFD.
[[nodiscard]] std::string to_text(const nlohmann::ordered_json& document);

}  // namespace framebus::cli
