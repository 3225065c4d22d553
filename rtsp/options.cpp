#include "options.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <map>
#include <optional>

#ifndef FRAMEBUS_VERSION
#define FRAMEBUS_VERSION "unknown"
#endif

namespace framebus::rtsp {

namespace {

constexpr const char* kProgram = "framebus-rtsp";

// "HOST:PORT", "[v6]:PORT", or ":PORT" (127.0.0.1).
std::optional<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "127.0.0.1";
    const std::string port_text = text.substr(colon + 1);
    std::uint16_t port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size())
        return std::nullopt;
    return std::pair{host, port};
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Serves every live framebus segment at rtsp://HOST:PORT/NAME (H.264, MJPEG or raw\n"
        "RTP), so another machine can bring it into its own bus with\n"
        "`framebus-writer rtsp://HOST:PORT/NAME --name NAME`.",
        kProgram};
    app.set_version_flag("--version", std::string(kProgram) + " " + FRAMEBUS_VERSION);
    app.get_formatter()->column_width(30);
    std::string listen = "127.0.0.1:8554";
    app.add_option("--listen", listen,
                   "Address and port to listen on (port 0: any free one); another address than "
                   "127.0.0.1 exposes the segments to the network")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return parse_listen(text)
                           ? std::string{}
                           : "'" + text + "' is not HOST:PORT such as 127.0.0.1:8554";
            },
            "HOST:PORT"))
        ->capture_default_str();
    const std::map<std::string, Codec> codecs{
        {"h264", Codec::h264}, {"jpeg", Codec::jpeg}, {"raw", Codec::raw}};
    std::string codec = "h264";
    app.add_option("--codec", codec,
                   "h264 (x264, tuned for latency), jpeg (MJPEG) or raw (RFC 4175, exact pixels)")
        ->check(CLI::IsMember({"h264", "jpeg", "raw"}))
        ->capture_default_str();
    app.add_option("--bitrate", options.bitrate_kbps, "H.264 bitrate in kbit/s")
        ->check(CLI::Range(16u, 200000u))
        ->capture_default_str();
    app.add_option("--jpeg-quality", options.jpeg_quality, "MJPEG quality")
        ->check(CLI::Range(1u, 100u))
        ->capture_default_str();
    app.add_flag("--quiet,-q", options.quiet, "No lines about clients on stderr");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
            app.exit(e);
            return 0;
        }
        fmt::print(stderr, "{}: error: {}\n", kProgram, e.what());
        return 2;
    }
    const auto address = parse_listen(listen);
    options.host = address->first;
    options.port = address->second;
    options.codec = codecs.at(codec);
    return options;
}

std::string media_launch_line(const Options& options, const std::string& segment) {
    // follow=true: a restarting writer (or a replaced segment) is followed,
    // and clients see a pause rather than the end.
    const std::string source = fmt::format("framebussrc segment={} follow=true", segment);
    switch (options.codec) {
        case Codec::h264:
            return fmt::format(
                // One encoder thread, no sliced threads: FFmpeg's RTSP client (OpenCV,
                // framebus-writer, ffplay) shows corrupt frames with x264's sliced
                // output, and frame threads would add frames of latency.
                "( {} ! videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency "
                "speed-preset=ultrafast bitrate={} key-int-max=30 threads=1 sliced-threads=false "
                "! rtph264pay name=pay0 pt=96 config-interval=-1 )",
                source, options.bitrate_kbps);
        case Codec::jpeg:
            return fmt::format(
                "( {} ! videoconvert ! video/x-raw,format=I420 ! jpegenc quality={} ! "
                "rtpjpegpay name=pay0 pt=26 )",
                source, options.jpeg_quality);
        case Codec::raw:
        default:
            // RFC 4175 in RGB/BGR order as the frames come (8-bit, exact).
            return fmt::format(
                "( {} ! videoconvert ! video/x-raw,format={{BGR,RGB}} ! rtpvrawpay name=pay0 "
                "pt=96 )",
                source);
    }
}

}  // namespace framebus::rtsp
