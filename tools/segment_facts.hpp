// What the CLI derives from a SegmentView snapshot (inspect.hpp): the newest
// frame, the frame rate, reader counts, and text for humans. Shared by ls,
// info, clean and watch so every command says the same thing the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "framebus/error.hpp"
#include "framebus/frame.hpp"
#include "framebus/inspect.hpp"

namespace framebus::cli {

// The committed slot holding the newest frame, or nullptr if none is visible.
[[nodiscard]] const SlotView* newest_frame(const SegmentView& view);

// Frames published during the last second, from the sequences and publish
// times of the frames still in the ring: exact when the ring reaches back a
// full second (or holds every frame since sequence 1), else the rate between
// the ring's frames inside the second, extrapolated. nullopt when
// nothing has been published (or too little is left to tell).
[[nodiscard]] std::optional<double> ring_fps(const SegmentView& view, std::int64_t now);

// Frames published per second between two snapshots of the same segment, or
// nullopt if they are not snapshots of the same segment (it was replaced).
[[nodiscard]] std::optional<double> sampled_fps(const SegmentView& before, std::int64_t before_ns,
                                                const SegmentView& after, std::int64_t after_ns);

[[nodiscard]] std::uint32_t live_reader_count(const SegmentView& view);
[[nodiscard]] std::uint32_t dead_reader_count(const SegmentView& view);

// "empty", "writing" or "committed".
[[nodiscard]] const char* slot_state(const SlotView& slot);
// "live", "end-of-stream" or "replaced".
[[nodiscard]] const char* writer_state_name(layout::WriterState state);
// Reader indices in a holders mask: "0,3" ("-" when empty).
[[nodiscard]] std::string holder_list(std::uint64_t holders);

// "640x480 bgr24".
[[nodiscard]] std::string frame_size(const FrameFormat& format);
// "12 ms", "3.4 s", "5 min", "2.0 h"; "-" for nullopt.
[[nodiscard]] std::string duration_text(std::optional<std::int64_t> ns);
// Wall-clock time in the local zone: "2024-05-01 12:00:00.123 +0200".
[[nodiscard]] std::string local_time_text(std::int64_t realtime_ns);
// ISO 8601 UTC: "2024-05-01T10:00:00.123Z".
[[nodiscard]] std::string utc_time_text(std::int64_t realtime_ns);
// The realtime at which a process with this start time (clock ticks after
// boot, /proc/<pid>/stat field 22) started; nullopt if the boot time is unknown.
[[nodiscard]] std::optional<std::int64_t> process_start_realtime_ns(std::uint64_t start_ticks);
// Permission bits in octal: "0600".
[[nodiscard]] std::string mode_text(std::uint32_t mode);
// The state column of ls: live / stalled / end-of-stream / stale.
[[nodiscard]] const char* health_name(const SegmentView& view, std::int64_t now);

}  // namespace framebus::cli
