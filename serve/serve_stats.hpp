// Counters of the whole server, read by /api/stats and the exit summary.
// Relaxed atomics: each is a count on its own, nothing is ordered by them.
#pragma once

#include <atomic>
#include <cstdint>

namespace framebus::serve {

struct ServeStats {
    std::atomic<std::uint64_t> encodes{0};          // JPEG encodings by the segment feeds
    std::atomic<std::uint64_t> encode_failures{0};  // frames of a format we cannot encode
    std::atomic<std::uint64_t> parts_sent{0};       // MJPEG parts written to clients
    std::atomic<std::uint64_t> snapshots{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> rejected{0};     // 503: over the client limit
    std::atomic<std::uint64_t> connections{0};  // open now
    std::atomic<std::uint64_t> streams{0};      // MJPEG responses open now
    std::atomic<std::uint64_t> feeds{0};        // segments being read (and encoded) now
};

}  // namespace framebus::serve
