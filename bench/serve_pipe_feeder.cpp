// Feeds the Flask baseline (bench/serve_flask.py) the same frames framebus-serve
// sees: the newest frame of a segment, each time one is published, written to
// stdout as a 24-byte header (sequence, publish_ns: int64; width, height:
// uint32) and the BGR bytes. This is the "pipe" a Flask camera thread reads.
//
//   framebus-serve-bench-feeder NAME
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "framebus/reader.hpp"

namespace {
bool write_all(const void* data, std::size_t size) {
    const char* bytes = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t written = ::write(STDOUT_FILENO, bytes, size);
        if (written <= 0) return false;
        bytes += written;
        size -= static_cast<std::size_t>(written);
    }
    return true;
}
}  // namespace

int main(int argc, char** argv) {
    using namespace framebus;
    if (argc != 2) return 2;
    auto reader = Reader::open(argv[1], ReaderOptions{std::chrono::milliseconds(5000)});
    if (!reader) {
        std::fprintf(stderr, "feeder: %s\n", reader.error().message.c_str());
        return 2;
    }
    std::vector<unsigned char> frame;
    for (;;) {
        const WaitStatus status = reader->wait(std::chrono::seconds(1));
        if (status == WaitStatus::timed_out) continue;
        if (status != WaitStatus::frame) return 0;
        auto lease = reader->latest();
        if (!lease) continue;
        const FrameFormat format = lease->format();
        unsigned char header[24];
        const std::int64_t sequence = static_cast<std::int64_t>(lease->sequence());
        const std::int64_t publish_ns = lease->info().publish_ns;
        std::memcpy(header, &sequence, 8);
        std::memcpy(header + 8, &publish_ns, 8);
        std::memcpy(header + 16, &format.width, 4);
        std::memcpy(header + 20, &format.height, 4);
        // Copied out and released before the pipe can block us.
        const std::size_t row_bytes = format.width * 3u;
        frame.resize(row_bytes * format.height);
        for (std::uint32_t row = 0; row < format.height; ++row)
            std::memcpy(frame.data() + row * row_bytes, lease->data() + row * format.stride(),
                        row_bytes);
        lease->release();
        if (!write_all(header, sizeof header) || !write_all(frame.data(), frame.size())) return 0;
    }
}
