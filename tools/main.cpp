// framebus: list, inspect, clean and watch framebus segments.
// main() parses arguments (CLI11) and maps everything to exit codes:
// 0 success, 1 operation failed, 2 usage or input error.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <exception>

#include "commands.hpp"
#include "framebus/app/number_option.hpp"
#include "segment_facts.hpp"

#ifndef FRAMEBUS_VERSION
#define FRAMEBUS_VERSION "unknown"
#endif

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 success, 1 operation failed, 2 usage or input error (bad option, invalid\n"
    "name, no such segment, corrupt segment, not a framebus segment).";

constexpr const char* kLsFooter =
    "Columns: NAME, FRAME (size and format of the newest frame), SLOTS, FPS, LAST-SEQ (newest\n"
    "sequence), AGE (of the newest frame), WRITER (pid, alive/dead), READERS (live ones; dead\n"
    "ones as +N dead), STATE: live | stalled (writer alive, no frame nor heartbeat for 2 s) |\n"
    "end-of-stream | stale (writer dead) | corrupt (reason: fails validation) |\n"
    "incompatible (reason: made by an older or newer framebus; clean removes it once its\n"
    "writer is dead).\n"
    "FPS, by default: the frames published during the last second, counted from the sequence\n"
    "numbers and publish times of the frames still in the ring - exact when the ring reaches\n"
    "back a second, else the rate between the ring's frames of that second (no waiting).\n"
    "FPS with --sample S: frames published between two snapshots S seconds apart (ls then\n"
    "waits S seconds if any writer is publishing).\n"
    "Files in /dev/shm without the framebus magic are not listed.";

constexpr const char* kCleanFooter =
    "Over all segments: removes stale ones (writer dead, no live reader) and those of another\n"
    "layout version whose writer is dead, reclaims the leases of dead readers in the others,\n"
    "reports corrupt ones (removed only with NAME and --force).\n"
    "Files that are not framebus segments are never touched.\n"
    "With NAME: the same for that segment; a live one is kept (exit 0, saying why), a corrupt\n"
    "one is an input error (exit 2) unless --force.\n"
    "--force with NAME removes it whatever its state, saying whose it was.";

constexpr const char* kWatchFooter =
    "Shows the state, the writer, FPS (frames published since the previous refresh; the first\n"
    "refresh counts the ring's last second as ls does), the age of the newest frame, capture-\n"
    "to-publish time, every slot (#sequence, [rN]: held by reader N) and every reader (last\n"
    "sequence, how far behind, frames, skipped, held slot). On a terminal the screen is\n"
    "redrawn; otherwise each refresh is a block followed by a blank line. SIGINT or SIGTERM\n"
    "ends it with exit code 0. If the segment disappears, it keeps watching the name.";

}  // namespace

int main(int argc, char** argv) {
    using namespace framebus::cli;
    framebus::app::ignore_sigpipe();  // `framebus ls | head -1` ends as it would have, exit 0

    CLI::App app{"framebus: list, inspect, clean and watch framebus shared-memory segments",
                 std::string(kProgram)};
    app.set_version_flag("--version", std::string(kProgram) + " " FRAMEBUS_VERSION);
    app.require_subcommand(1);
    app.footer(kExitCodes);

    LsOptions ls;
    CLI::App* ls_cmd = app.add_subcommand("ls", "List every framebus segment in /dev/shm");
    ls_cmd->add_flag("--json", ls.json,
                     "Machine-readable output (schema framebus.ls/2, tools/JSON.md)");
    ls_cmd
        ->add_option("--sample", ls.sample_seconds,
                     "Measure FPS over a sample of SECONDS instead of from the ring (see below)")
        ->type_name("SECONDS")
        ->check(framebus::app::number_in(0.01, 60.0, "FPS from the ring"));
    ls_cmd->footer(kLsFooter);

    InfoOptions info;
    CLI::App* info_cmd = app.add_subcommand(
        "info", "Show everything in one segment: header, writer, slots, readers");
    info_cmd->add_option("NAME", info.name, "Segment name")->required();
    info_cmd->add_flag("--json", info.json,
                       "Machine-readable output (schema framebus.info/2, tools/JSON.md)");

    CleanOptions clean;
    std::string clean_name;
    CLI::App* clean_cmd = app.add_subcommand(
        "clean", "Remove stale segments and reclaim dead readers' leases; one line per action");
    CLI::Option* clean_name_opt = clean_cmd->add_option("NAME", clean_name, "Only this segment");
    clean_cmd->add_flag("--dry-run", clean.dry_run, "Say what would be done; change nothing");
    clean_cmd->add_flag("--force", clean.force,
                        "With NAME: remove it even if it is live or corrupt (says whose it was)");
    clean_cmd->footer(kCleanFooter);

    WatchOptions watch;
    std::uint64_t count = 0;
    CLI::App* watch_cmd = app.add_subcommand(
        "watch", "Live view of one segment (fps, latency, readers, skipped, slots) until Ctrl-C");
    watch_cmd->add_option("NAME", watch.name, "Segment name")->required();
    watch_cmd->add_option("--interval", watch.interval_seconds, "Seconds between refreshes")
        ->type_name("SECONDS")
        ->check(framebus::app::number_in(0.01, 3600.0))
        ->capture_default_str();
    CLI::Option* count_opt =
        watch_cmd
            ->add_option("--count", count,
                         "Exit (code 0) after N refreshes instead of waiting for Ctrl-C")
            ->type_name("N")
            ->check(framebus::app::number_in(std::uint64_t{1}, std::uint64_t{1'000'000'000}));
    watch_cmd->footer(kWatchFooter);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return report_error(fmt::format("{} (see --help)", e.what()), kExitUsage);
    }

    try {
        if (ls_cmd->parsed()) return run_ls(ls);
        if (info_cmd->parsed()) return run_info(info);
        if (clean_cmd->parsed()) {
            // An empty NAME ("$UNSET") is an invalid name, never "all segments".
            if (clean_name_opt->count() > 0) clean.name = clean_name;
            return run_clean(clean);
        }
        if (watch_cmd->parsed()) {
            if (count_opt->count() > 0) watch.count = count;
            return run_watch(watch);
        }
    } catch (const std::exception& e) {  // allocation failure and the like
        return report_error(e.what(), kExitFailed);
    }
    return kExitUsage;
}
