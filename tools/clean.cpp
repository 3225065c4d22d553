// `framebus clean [NAME]`: removes stale segments (writer dead, no live
// reader) and takes back the leases of dead readers. Never a live writer's
// segment without --force, never a file that is not a framebus segment.
#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "commands.hpp"
#include "framebus/detail/sys.hpp"
#include "framebus/inspect.hpp"
#include "framebus/layout.hpp"
#include "framebus/name.hpp"
#include "segment_facts.hpp"

namespace framebus::cli {

namespace {

struct Outcome {
    int exit_code = kExitOk;
    bool acted = false;  // printed at least one action line

    void fail(int code) { exit_code = std::max(exit_code, code); }
    // A library error: for a named segment its own class (2 for input
    // errors); over all segments, an action that failed (1).
    void fail(const Error& error, bool named) {
        const int code = report_error(error);
        fail(named ? code : kExitFailed);
    }
};

std::string readers_phrase(std::uint32_t live) {
    if (live == 0) return "no live reader";
    return fmt::format("{} live reader{}", live, live == 1 ? "" : "s");
}

// Takes back the entries and leases of `v`'s dead readers, one line each.
void reclaim_dead(const SegmentView& v, bool named, const CleanOptions& options, Outcome& outcome) {
    std::vector<const ReaderView*> dead;
    for (const ReaderView& r : v.readers)
        if (!r.alive) dead.push_back(&r);
    if (dead.empty()) return;
    auto describe = [&](const ReaderView& r) {
        const std::string held =
            r.held_slot >= 0 ? fmt::format("its lease on slot {}", r.held_slot) : "no lease";
        return fmt::format("dead reader {} (pid {}) in {}: {}", r.index, r.pid, v.name, held);
    };
    if (options.dry_run) {
        for (const ReaderView* r : dead) app::print(stdout, "would reclaim {}\n", describe(*r));
        outcome.acted = true;
        return;
    }
    auto reclaimed = reclaim_dead_readers(v.name);
    if (!reclaimed) {
        outcome.fail(reclaimed.error(), named);
        return;
    }
    if (*reclaimed == dead.size()) {
        for (const ReaderView* r : dead) app::print(stdout, "reclaimed {}\n", describe(*r));
    } else if (*reclaimed > 0) {
        // Readers died, or the writer or an attaching reader reclaimed some,
        // between our snapshot and the reclaim: say only what we know.
        app::print(stdout, "reclaimed {} dead reader entr{} in {}\n", *reclaimed,
                   *reclaimed == 1 ? "y" : "ies", v.name);
    }
    outcome.acted = outcome.acted || *reclaimed > 0;
}

void remove_one(const std::string& name, bool named, bool force, const std::string& what,
                const CleanOptions& options, Outcome& outcome) {
    if (options.dry_run) {
        app::print(stdout, "would remove {}\n", what);
        outcome.acted = true;
        return;
    }
    // remove_segment re-checks the writer under its own snapshot: a writer
    // that took the name over since our look is never removed without force.
    if (auto st = remove_segment(name, force); !st) {
        if (st.error().code == Errc::not_found) return;  // gone already: nothing to do
        outcome.fail(st.error(), named);
        return;
    }
    app::print(stdout, "removed {}\n", what);
    outcome.acted = true;
}

// Whether the writer of a segment of another layout version (one inspect()
// cannot read) is alive. Only the file-level contract, the same in every
// layout version, is used: the writer holds the OFD lock on kWriterLockByte.
// Where OFD locks are unsupported nobody can tell: treated as alive (kept).
Result<bool> other_layout_writer_alive(const std::string& name) {
    const std::string path = segment_path(name);
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return sys::error_from_errno(errno, path);
    const sys::LockProbe probe = sys::probe_lock(fd, layout::kWriterLockByte);
    ::close(fd);
    return probe != sys::LockProbe::unlocked;
}

// A segment of another layout version (an older framebus's, whose writer
// must be restarted): removed once its writer is dead, kept while it lives.
void clean_other_layout(const std::string& name, const Error& why, bool named,
                        const CleanOptions& options, Outcome& outcome) {
    auto alive = other_layout_writer_alive(name);
    if (!alive) {
        if (alive.error().code != Errc::not_found || named) outcome.fail(alive.error(), named);
        return;
    }
    if (!*alive || (named && options.force)) {
        remove_one(name, named, true,
                   fmt::format("segment {} of another layout version, writer {} ({})", name,
                               *alive ? "alive" : "dead", printable(why.message)),
                   options, outcome);
        return;
    }
    app::print(stdout, "{} segment {}: its writer is alive ({}){}\n", named ? "kept" : "skipped",
               name, printable(why.message), named ? " (--force removes it)" : "");
    outcome.acted = true;
}

// One segment. `named`: the user asked for this one (errors and refusals
// are then the command's result, not just notes).
void clean_one(const std::string& name, bool named, const CleanOptions& options, Outcome& outcome) {
    auto view = inspect(name);
    if (!view) {
        const Error& e = view.error();
        if (e.code == Errc::not_found && !named) return;  // vanished since listed
        if (e.code == Errc::version_mismatch) {
            clean_other_layout(name, e, named, options, outcome);
            return;
        }
        if (e.code != Errc::corrupt) {
            outcome.fail(e, named);
            return;
        }
        if (named && options.force) {
            remove_one(name, named, true,
                       fmt::format("corrupt segment {} ({})", name, printable(e.message)), options,
                       outcome);
        } else if (named) {
            outcome.fail(
                report_error(e.message + "; not removed (--force removes it)", kExitUsage));
        } else {
            app::print(stdout,
                       "skipped corrupt segment {} ({}); `{} clean {} --force` removes it\n", name,
                       printable(e.message), kProgram, name);
            outcome.acted = true;
        }
        return;
    }
    const SegmentView& v = *view;
    const std::uint32_t live_readers = live_reader_count(v);
    if (!v.writer_alive && live_readers == 0) {
        remove_one(name, named, false,
                   fmt::format("stale segment {} (writer pid {} dead, no live reader)", name,
                               v.writer_pid),
                   options, outcome);
        return;
    }
    if (named && options.force) {
        remove_one(name, named, true,
                   fmt::format("segment {} of writer pid {} ({}, {})", name, v.writer_pid,
                               v.writer_alive ? "alive" : "dead", readers_phrase(live_readers)),
                   options, outcome);
        return;
    }
    reclaim_dead(v, named, options, outcome);
    if (named) {
        // Not an error: clean did what it does (reclaim); a live segment stays.
        const std::string why = v.writer_alive
                                    ? fmt::format("its writer pid {} is alive", v.writer_pid)
                                    : fmt::format("writer pid {} is dead but {} attached",
                                                  v.writer_pid, readers_phrase(live_readers));
        app::print(stdout, "kept segment {}: {} (--force removes it)\n", name, why);
        outcome.acted = true;
    }
}

}  // namespace

int run_clean(const CleanOptions& options) {
    Outcome outcome;
    if (options.name) {
        clean_one(*options.name, true, options, outcome);
        return outcome.exit_code;
    }
    if (options.force)
        return report_error("--force needs a segment NAME (it never applies to all segments)",
                            kExitUsage);
    for (const std::string& name : list_segments()) clean_one(name, false, options, outcome);
    // Segments whose writer died while building them: never under a real name,
    // but they hold memory until removed.
    for (const std::string& temporary : orphaned_temporaries()) {
        const std::string what = fmt::format("orphaned temporary {} (its writer died building it)",
                                             segment_path(temporary));
        outcome.acted = true;
        if (options.dry_run) {
            app::print(stdout, "would remove {}\n", what);
        } else if (auto st = remove_orphaned_temporary(temporary); st) {
            app::print(stdout, "removed {}\n", what);
        } else if (st.error().code != Errc::not_found) {
            outcome.fail(st.error(), false);
        }
    }
    if (!outcome.acted && outcome.exit_code == kExitOk)
        app::print(stdout, "nothing to clean{}\n", options.dry_run ? " (dry run)" : "");
    return outcome.exit_code;
}

}  // namespace framebus::cli
