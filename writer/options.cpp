#include "options.hpp"

#include "framebus/app/program.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <map>
#include <vector>

#include "framebus/app/number_option.hpp"

#ifndef FRAMEBUS_VERSION
#define FRAMEBUS_VERSION "unknown"
#endif

namespace framebus::writer {

namespace {

constexpr const char* kProgram = "framebus-writer";
// A count far past any run (a year at 10,000 fps is 3e11), far inside every integer.
constexpr std::uint64_t kMaxCount = 1'000'000'000'000'000;

std::optional<std::uint32_t> parse_uint(std::string_view text, int base = 10) {
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

// A CLI11 check that accepts WxH sizes.
CLI::Validator size_check() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            return parse_size(text) ? std::string{}
                                    : "'" + text + "' is not a size WIDTHxHEIGHT such as 640x480";
        },
        "WxH");
}

// Every pixel format of the bus, by the name the CLI and JSON use.
std::vector<std::string> format_names() {
    std::vector<std::string> names;
    for (const PixelFormatInfo& info : pixel_formats()) names.emplace_back(info.name);
    return names;
}

}  // namespace

std::optional<Size> parse_size(const std::string& text) {
    const auto x = text.find_first_of("xX");
    if (x == std::string::npos) return std::nullopt;
    auto width = parse_uint(std::string_view(text).substr(0, x));
    auto height = parse_uint(std::string_view(text).substr(x + 1));
    // 65535 per side keeps width * height * 4 bytes far inside every integer we use.
    if (!width || !height || *width == 0 || *height == 0 || *width > 65535 || *height > 65535)
        return std::nullopt;
    return Size{*width, *height};
}

std::optional<std::uint32_t> parse_mode(const std::string& text) {
    if (text.size() < 3 || text.size() > 4) return std::nullopt;
    auto mode = parse_uint(text, 8);
    if (!mode || *mode > 0777) return std::nullopt;
    return mode;
}

ParsedCommandLine parse_command_line(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Publishes frames from a video file, camera, stream URL, GStreamer pipeline or image\n"
        "sequence (or, with no SOURCE, a moving test pattern) into a framebus segment.",
        kProgram};
    app.set_version_flag("--version", std::string(kProgram) + " " + FRAMEBUS_VERSION);
    app.get_formatter()->column_width(30);

    app.add_option("SOURCE", options.source,
                   "Video file, camera index or /dev/videoN, rtsp:// or http:// URL, GStreamer "
                   "pipeline (with '!'), or image sequence (img_%04d.png). None: test pattern");
    const std::map<std::string, SourceType> source_types{
        {"auto", SourceType::automatic},   {"pattern", SourceType::pattern},
        {"file", SourceType::file},        {"sequence", SourceType::sequence},
        {"camera", SourceType::camera},    {"url", SourceType::url},
        {"pipeline", SourceType::pipeline}};
    std::string source_type = "auto";
    app.add_option("--source-type", source_type, "What SOURCE is, when its spelling does not tell")
        ->check(CLI::IsMember({"auto", "pattern", "file", "sequence", "camera", "url", "pipeline"}))
        ->capture_default_str();
    app.add_option("--name", options.name, "Segment name")->capture_default_str();
    app.add_option("--slots", options.slots,
                   "Frames in the ring (default: max readers x leases per reader + 2)")
        ->check(app::number_in(2u, 255u));
    app.add_option("--max-readers", options.max_readers, "Readers that may attach at once")
        ->check(app::number_in(1u, 64u))
        ->capture_default_str();
    app.add_option("--leases-per-reader", options.leases_per_reader,
                   "Frames one reader may hold at once")
        ->check(app::number_in(1u, 16u))
        ->capture_default_str();
    double fps = 0;
    auto* fps_option = app.add_option("--fps", fps,
                                      "Frames per second to publish; 0: as fast as the source "
                                      "gives (default: a file's own rate, 30 for the pattern)")
                           ->check(app::number_in(0.01, 10000.0, "as fast as the source gives"));
    app.add_flag("--loop", options.loop, "Restart files and image sequences at their end");
    std::string resize;
    auto* resize_option =
        app.add_option("--resize", resize, "Publish frames of this size")->check(size_check());
    std::string format = "native";
    std::vector<std::string> formats = format_names();
    formats.insert(formats.begin(), "native");
    app.add_option("--format", format,
                   "Pixel format to publish; native: as the decoder produces it (libav's YUV "
                   "planes, OpenCV's BGR)")
        ->check(CLI::IsMember(formats))
        ->capture_default_str();
    app.add_option("--max-frames", options.max_frames, "Stop after this many frames")
        ->check(app::number_in(std::uint64_t{1}, kMaxCount));
    app.add_flag("--keep", options.keep, "Leave the segment behind at exit");
    app.add_flag("--reuse-newest", options.reuse_newest,
                 "Overwrite the newest frame once every reader has it: one slot stays hot "
                 "while readers keep up, but latest() finds nothing while it is rewritten");
    std::string mode = "0600";
    app.add_option("--mode", mode, "Permission bits of the segment")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return parse_mode(text) ? std::string{}
                                        : "'" + text + "' is not a permission mode such as 0600";
            },
            "MODE"))
        ->capture_default_str();
    app.add_option("--wait-readers", options.wait_readers,
                   "Publish the first frame only once this many readers are attached")
        ->check(app::number_in(0u, 64u));
    app.add_flag("--quiet,-q", options.quiet, "No status line on stderr");
    std::string camera_size;
    auto* camera_size_option =
        app.add_option("--camera-size", camera_size, "Capture size to ask a camera for")
            ->check(size_check());
    double camera_fps = 0;
    auto* camera_fps_option =
        app.add_option("--camera-fps", camera_fps, "Frame rate to ask a camera for")
            ->check(app::number_in(0.1, 1000.0));
    bool reconnect = false;
    auto* reconnect_option = app.add_flag(
        "--reconnect,!--no-reconnect", reconnect,
        "Reopen a camera or stream that stops delivering, with backoff (default: on for them)");

    std::string decoder = "auto";
    app.add_option("--decoder", decoder,
                   "Who decodes files and URLs: libav (straight into the slot) or opencv; auto: "
                   "libav, OpenCV where libav cannot open the source")
        ->check(CLI::IsMember({"auto", "libav", "opencv"}))
        ->capture_default_str();
    std::string hwaccel = "none";
    app.add_option("--hwaccel", hwaccel, "libav hardware decoding (software when not available)")
        ->check(CLI::IsMember({"none", "vaapi", "auto"}))
        ->capture_default_str();
    app.add_option("--decoder-threads", options.decoder_threads,
                   "libav decoder threads (0: one per core)")
        ->check(app::number_in(0, 64))
        ->capture_default_str();
    std::string thread_type = "auto";
    app.add_option("--thread-type", thread_type,
                   "libav threading: slice, frame, or auto (frame+slice for files, slice for "
                   "live sources)")
        ->check(CLI::IsMember({"auto", "slice", "frame"}))
        ->capture_default_str();
    app.add_flag("--on-demand", options.on_demand,
                 "Close a live source while no reader is attached; reopen it when one attaches");
    auto* idle_after_option =
        app.add_option("--idle-after", options.idle_after,
                       "With --on-demand: seconds without readers before the source is closed")
            ->check(app::number_in(0.0, 86400.0))
            ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
            app.exit(e);  // --help, --version: printed on stdout
            return 0;
        }
        return app::report_error(kProgram, e.what(), 2);
    }

    options.source_type = source_types.at(source_type);
    if (fps_option->count() > 0) options.fps = fps;
    if (resize_option->count() > 0) options.resize = parse_size(resize);
    if (format != "native") options.format = parse_pixel_format(format);
    options.decoder = decoder == "libav"    ? Decoder::libav
                      : decoder == "opencv" ? Decoder::opencv
                                            : Decoder::automatic;
    options.hwaccel = hwaccel == "vaapi"  ? Hwaccel::vaapi
                      : hwaccel == "auto" ? Hwaccel::automatic
                                          : Hwaccel::none;
    options.thread_type = thread_type == "slice"   ? ThreadType::slice
                          : thread_type == "frame" ? ThreadType::frame
                                                   : ThreadType::automatic;
    if (idle_after_option->count() > 0 && !options.on_demand) {
        fmt::print(stderr, "{}: error: --idle-after needs --on-demand\n", kProgram);
        return 2;
    }
    options.mode = *parse_mode(mode);
    if (camera_size_option->count() > 0) options.camera_size = parse_size(camera_size);
    if (camera_fps_option->count() > 0) options.camera_fps = camera_fps;
    if (reconnect_option->count() > 0) options.reconnect = reconnect;
    return options;
}

}  // namespace framebus::writer
