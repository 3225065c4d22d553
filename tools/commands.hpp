// The subcommands of `framebus`. Each returns the process exit code (0 ok,
// 1 operation failed, 2 usage or input error) and prints its own output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "framebus/app/program.hpp"
#include "framebus/error.hpp"

namespace framebus::cli {

inline constexpr std::string_view kProgram = "framebus";

using app::kExitFailed;
using app::kExitOk;
using app::kExitUsage;
using app::printable;

// `framebus: error: <message>` (one line, on stderr, made printable); returns
// the exit code of the error's class (app::exit_code_of) or the one given.
inline int report_error(const Error& error) {
    return app::report_error(kProgram, error);
}
inline int report_error(std::string_view message, int exit_code) {
    return app::report_error(kProgram, message, exit_code);
}

struct LsOptions {
    bool json = false;
    // 0: fps from the publish times of the frames in the ring (instant);
    // > 0: fps from frames published between two snapshots this far apart.
    double sample_seconds = 0;
};
int run_ls(const LsOptions& options);

struct InfoOptions {
    std::string name;
    bool json = false;
};
int run_info(const InfoOptions& options);

struct CleanOptions {
    std::optional<std::string> name;  // none: every segment
    bool dry_run = false;
    bool force = false;  // only with a name
};
int run_clean(const CleanOptions& options);

struct WatchOptions {
    std::string name;
    double interval_seconds = 0.25;
    std::optional<std::uint64_t> count;  // refreshes before exiting; none: until SIGINT
};
int run_watch(const WatchOptions& options);

}  // namespace framebus::cli
