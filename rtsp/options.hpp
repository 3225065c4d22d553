// framebus-rtsp's command line.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace framebus::rtsp {

enum class Codec { h264, jpeg, raw };

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8554;  // 0: any free port (printed)
    Codec codec = Codec::h264;
    std::uint32_t bitrate_kbps = 4000;  // h264
    std::uint32_t jpeg_quality = 85;
    bool quiet = false;
};

// Options, or the exit code when the program should stop (help: 0, bad input: 2).
using ParsedCommandLine = std::variant<Options, int>;
[[nodiscard]] ParsedCommandLine parse_command_line(int argc, char** argv);

// The launch line of one segment's media ("( framebussrc ... name=pay0 )").
[[nodiscard]] std::string media_launch_line(const Options& options, const std::string& segment);

}  // namespace framebus::rtsp
