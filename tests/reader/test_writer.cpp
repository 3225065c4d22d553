// A test-only writer for the reader's tests: publishes frames with a known
// content (built from the library alone), so a test can compare what the
// reader shows or saves with what was published.
//
//   framebus_reader_test_writer --name N [--fps F] [--max-frames M]
//       [--size WxH (or --resize)] [--format any pixel format] [--pattern stamped|blocks]
//       [--quiet]
//       [--second-size WxH --switch-after N]
//
// stamped: bytes derived from the sequence number, stamped like the real
//          writer's test pattern (stamp_frame with the slot's sequence).
// blocks:  four solid quadrants (kQuadrantColours in test_pattern.hpp), also stamped.
// --switch-after: after N frames, publish frames of --second-size (a larger
//          one makes the library replace the segment; readers follow).
// SIGINT/SIGTERM or --max-frames: end of stream, unlink, exit 0.
#include <signal.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "framebus/stamp.hpp"
#include "framebus/writer.hpp"
#include "test_pattern.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop(int) {
    g_stop = 1;
}

int usage(const std::string& what) {
    std::fprintf(stderr, "framebus_reader_test_writer: error: %s\n", what.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace framebus;
    WriterOptions options;
    double fps = 30;
    std::uint64_t max_frames = 0;
    std::uint32_t width = 640, height = 480;
    PixelFormat pixel_format = PixelFormat::bgr24;
    bool blocks = false;
    std::uint32_t second_width = 0, second_height = 0;
    std::uint64_t switch_after = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) std::exit(usage(std::string(arg) + " needs a value"));
            return argv[++i];
        };
        if (arg == "--name") {
            options.name = value();
        } else if (arg == "--fps") {
            fps = std::stod(value());
        } else if (arg == "--max-frames") {
            max_frames = std::stoull(value());
        } else if (arg == "--size" || arg == "--resize") {
            const std::string size = value();
            if (std::sscanf(size.c_str(), "%ux%u", &width, &height) != 2)
                return usage("bad --size " + size);
        } else if (arg == "--second-size") {
            const std::string size = value();
            if (std::sscanf(size.c_str(), "%ux%u", &second_width, &second_height) != 2)
                return usage("bad --second-size " + size);
        } else if (arg == "--switch-after") {
            switch_after = std::stoull(value());
        } else if (arg == "--format") {
            const std::string text = value();
            auto parsed = parse_pixel_format(text);
            if (!parsed) return usage("bad --format " + text);
            pixel_format = *parsed;
        } else if (arg == "--pattern") {
            const std::string pattern = value();
            if (pattern != "stamped" && pattern != "blocks")
                return usage("bad --pattern " + pattern);
            blocks = pattern == "blocks";
        } else if (arg == "--quiet") {
        } else {
            return usage("unknown argument " + std::string(arg));
        }
    }

    struct sigaction action {};
    action.sa_handler = on_stop;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);

    FrameFormat format = FrameFormat::packed(width, height, pixel_format);
    options.initial_format = format;
    auto writer = Writer::create(options);
    if (!writer) return usage(writer.error().message);

    const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / fps));
    auto next = std::chrono::steady_clock::now();
    std::uint64_t published = 0;
    while (!g_stop && (max_frames == 0 || published < max_frames)) {
        if (switch_after > 0 && published == switch_after && second_width > 0)
            format = FrameFormat::packed(second_width, second_height, pixel_format);
        auto slot = writer->acquire(format);
        if (slot) {
            if (blocks)
                test::draw_blocks(slot->data(), format);
            else
                test::draw_numbered(slot->data(), format, slot->sequence());
            stamp_frame(slot->data(), format, slot->sequence());
            slot->commit();
            ++published;
        } else if (slot.error().code != Errc::no_free_slot) {
            return usage(slot.error().message);
        }
        if (published % 16 == 0) writer->reclaim_dead_readers();
        next += period;
        std::this_thread::sleep_until(next);
    }
    writer->close();
    return 0;
}
