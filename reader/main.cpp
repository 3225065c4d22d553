// framebus-reader: shows the newest frame of a segment in a window, or
// prints statistics headless, or saves one frame. See README.md.
#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "framebus/app/number_option.hpp"
#include "framebus/app/program.hpp"
#include "framebus/name.hpp"
#include "options.hpp"

#ifndef FRAMEBUS_VERSION
#define FRAMEBUS_VERSION "unknown"
#endif

namespace {

// Far past any run, and far inside the nanosecond clock's int64 (292 years).
constexpr double kMaxSeconds = 100.0 * 365 * 24 * 3600;
constexpr std::uint64_t kMaxCount = 1'000'000'000'000'000;

int usage_error(const std::string& what) {
    return framebus::app::report_error("framebus-reader", what, framebus::app::kExitUsage);
}

}  // namespace

int main(int argc, char** argv) {
    framebus::app::ignore_sigpipe();  // a closed stdout or stderr never kills the reader
    framebus::reader::Options options;
    std::string positional_name;
    std::string option_name;

    CLI::App app{
        "Shows the newest frame of a framebus segment: in a window, or headless as "
        "statistics, or saved to a file.",
        "framebus-reader"};
    app.footer(
        "Exit codes: 0 success; 1 failed (no frame for --snapshot, a --verify mismatch); 2 usage "
        "or input error (bad option or name, no such segment, corrupt segment, permission).");
    app.set_version_flag("--version", "framebus-reader " FRAMEBUS_VERSION);
    app.add_option("NAME", positional_name, "segment name (default: framebus)");
    app.add_option("--name", option_name, "segment name (instead of NAME)");
    app.add_flag("--headless", options.headless,
                 "no window: a stats line on stderr about once a second (automatic when "
                 "$DISPLAY is unset)");
    app.add_option(
           "--snapshot", options.snapshot,
           "wait for a frame (up to --duration, if given), save it to FILE (.png), and exit")
        ->type_name("FILE");
    app.add_flag("--every", options.every,
                 "read every frame in order (next mode) instead of the newest; frames it "
                 "cannot keep up with are counted as skipped");
    app.add_option("--wait", options.wait_seconds,
                   "wait up to SECONDS for the segment to appear (default: fail at once)")
        ->type_name("SECONDS")
        ->check(framebus::app::number_in(0.0, kMaxSeconds));
    app.add_option("--spin-us", options.spin_us,
                   "adaptive wait: busy-poll up to N microseconds for the next frame before "
                   "sleeping (lower latency when frames come that fast, one CPU busy meanwhile; "
                   "default 0: sleep at once)")
        ->type_name("N")
        ->check(framebus::app::number_in(0u, 1'000'000u));
    app.add_option("--max-frames", options.max_frames, "exit after N frames")
        ->type_name("N")
        ->check(framebus::app::number_in(std::uint64_t{1}, kMaxCount, "no limit"));
    app.add_option("--duration", options.duration_seconds, "exit after SECONDS")
        ->type_name("SECONDS")
        ->check(framebus::app::number_in(0.001, kMaxSeconds, "no limit"));
    app.add_flag("--exit-on-eos,!--no-exit-on-eos", options.exit_on_eos,
                 "exit at the end of the stream (default); with --no-exit-on-eos wait for a "
                 "new writer instead");
    app.add_flag("--verify", options.verify,
                 "check the test pattern's stamp (frame number and checksum) of every frame; "
                 "exit 1 if any fails");
    app.add_flag("--quiet", options.quiet, "no stats or event lines on stderr");
    // Test hook, hidden from --help: a slow reader on purpose.
    app.add_option("--hold-ms", options.hold_ms, "hold each lease this long (tests)")
        ->check(framebus::app::number_in(0u, 60'000u))
        ->group("");

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        return usage_error(std::string(e.what()) + " (see --help)");
    }

    if (!positional_name.empty() && !option_name.empty() && positional_name != option_name)
        return usage_error("two segment names given: '" + positional_name + "' and --name '" +
                           option_name + "'");
    if (!positional_name.empty()) options.name = positional_name;
    if (!option_name.empty()) options.name = option_name;
    if (auto valid = framebus::validate_name(options.name); !valid)
        return usage_error(valid.error().message);
    if (options.snapshot && !cv::haveImageWriter(*options.snapshot))
        return usage_error("--snapshot '" + *options.snapshot +
                           "': no image writer for that file extension (use .png)");

    return framebus::reader::run(options);
}
