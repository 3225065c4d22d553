// framebus-writer: decodes a source straight into a framebus segment.
// main() alone turns errors into messages and exit codes (0 ok, 1 publishing
// failed, 2 usage or input error).
#include <cstdlib>

#include <fmt/core.h>
#include <opencv2/core/utils/logger.hpp>

#include "frame_source.hpp"
#include "framebus/app/program.hpp"
#include "framebus/name.hpp"
#include "framebus/writer.hpp"
#include "libav_source.hpp"
#include "options.hpp"
#include "publisher.hpp"
#include "status_line.hpp"
#include "stop_signal.hpp"

namespace framebus::writer {

namespace {

constexpr const char* kProgram = "framebus-writer";
constexpr std::uint32_t kPatternWidth = 640;
constexpr std::uint32_t kPatternHeight = 480;
constexpr double kPatternFps = 30;
constexpr double kSequenceFps = 25;  // images carry no rate; ffmpeg's image2 default

int fail(int code, const std::string& message) {
    return app::report_error(kProgram, message, code);
}

// Backends may print warnings of their own; the program speaks for itself.
void quiet_backends() {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    ::setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);  // AV_LOG_QUIET, unless the user set one
}

double default_fps(SourceType type, const FrameSource& source) {
    switch (type) {
        case SourceType::pattern:
            return kPatternFps;
        case SourceType::sequence:
            return kSequenceFps;
        case SourceType::file:
            return source.frame_rate() > 0 ? source.frame_rate() : kPatternFps;
        default:
            return 0;  // live sources pace themselves
    }
}

int run(const Options& options) {
    // Everything that can be checked is checked before the segment exists, so
    // bad input leaves nothing behind and touches no existing segment.
    if (auto st = validate_name(options.name); !st) return fail(2, st.error().message);
    const SourceType type = options.source_type == SourceType::automatic
                                ? detect_source_type(options.source)
                                : options.source_type;
    if (type != SourceType::pattern && options.source.empty())
        return fail(2, std::string("--source-type ") + to_string(type) + " needs a SOURCE");

    quiet_backends();
    const bool libav_kind = type == SourceType::file || type == SourceType::url;
    if (options.decoder == Decoder::libav && !libav_kind)
        return fail(2, std::string("--decoder libav decodes files and URLs, not a ") +
                           to_string(type) + "; use --decoder opencv");
    if (options.on_demand && (type == SourceType::file || type == SourceType::sequence))
        return fail(2, std::string("--on-demand is for live sources and the test pattern, not a ") +
                           to_string(type));
    std::string hwaccel_note;
    Result<std::unique_ptr<FrameSource>> opened = Error{Errc::invalid_argument, ""};
    if (type == SourceType::pattern) {
        opened = make_test_pattern(options.resize ? options.resize->width : kPatternWidth,
                                   options.resize ? options.resize->height : kPatternHeight,
                                   options.format.value_or(PixelFormat::bgr24));
    } else if (libav_kind && options.decoder != Decoder::opencv) {
        if (type == SourceType::file) {
            if (auto st = check_readable_file(options.source); !st)
                return fail(2, st.error().message);
        }
        opened = open_libav_source(options, type, hwaccel_note);
        // auto: what libav cannot open, OpenCV may (its other backends).
        if (!opened && options.decoder == Decoder::automatic) opened = open_source(options, type);
    } else {
        opened = open_source(options, type);
    }
    if (!opened) return fail(2, opened.error().message);
    if (options.hwaccel != Hwaccel::none && !hwaccel_note.empty())
        fmt::print(stderr, "{}: {}\n", kProgram, hwaccel_note);
    FrameSource& source = **opened;
    // The first frame proves the source decodes, before anything is created.
    if (source.grab() != Grab::frame)
        return fail(2, "cannot read " + source.description() + ": no frame could be decoded");

    PublishPlan plan;
    plan.resize = options.resize;
    plan.format = options.format;
    plan.max_frames = options.max_frames;
    plan.loop = options.loop;
    // Cameras and URLs reconnect unless told not to; a pipeline ends at its
    // end of stream (videotestsrc num-buffers=10) unless --reconnect asks.
    plan.reconnect =
        options.reconnect.value_or(type == SourceType::camera || type == SourceType::url);
    plan.fps = options.fps.value_or(default_fps(type, source));
    plan.wait_readers = options.wait_readers;
    plan.on_demand = options.on_demand;
    plan.idle_after =
        std::chrono::milliseconds(static_cast<std::int64_t>(options.idle_after * 1000));

    WriterOptions writer_options;
    writer_options.name = options.name;
    writer_options.max_readers = options.max_readers;
    writer_options.leases_per_reader = options.leases_per_reader;
    writer_options.slots = options.slots;
    writer_options.initial_format = publish_format(source.expected_shape(), plan);
    if (auto st = check_publishable(writer_options.initial_format); !st)
        return fail(2, st.error().message);
    writer_options.mode = options.mode;
    writer_options.keep = options.keep;
    writer_options.reuse_newest = options.reuse_newest;

    install_stop_handlers();  // before the segment exists: a signal now still cleans up
    auto created = Writer::create(writer_options);
    if (!created) return app::report_error(kProgram, created.error());
    Writer& writer = *created;

    const FrameFormat& format = writer_options.initial_format;
    if (!options.quiet)
        app::print(stderr,
                   "{}: {} -> segment '{}': {}x{} {}, {} slots, {} readers max, {} leases each, "
                   "{}{}\n",
                   kProgram, app::printable(source.description()), writer.name(), format.width,
                   format.height, to_string(format.pixel_format), writer.slot_count(),
                   writer.max_readers(), writer.leases_per_reader(),
                   plan.fps > 0 ? fmt::format("{:g} fps", plan.fps) : std::string("unpaced"),
                   options.reuse_newest ? ", reusing the newest frame's slot" : "");

    StatusLine status(!options.quiet, stderr);
    Publisher publisher(writer, source, plan, status);
    const int code = publisher.run(true);
    writer.close();  // end of stream, and the name unlinked unless --keep
    status.summary(publisher.counters());
    if (code != 0) return fail(code, publisher.failure());
    return 0;
}

}  // namespace

}  // namespace framebus::writer

int main(int argc, char** argv) {
    framebus::app::ignore_sigpipe();  // a closed stderr never kills the writer mid-stream
    auto parsed = framebus::writer::parse_command_line(argc, argv);
    if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
    try {
        return framebus::writer::run(std::get<framebus::writer::Options>(parsed));
    } catch (const std::exception& e) {
        // OpenCV reports some failures as exceptions; they end here as one line.
        return framebus::app::report_error("framebus-writer", e.what(), framebus::app::kExitFailed);
    }
}
