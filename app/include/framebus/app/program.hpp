// What every framebus program (writer, reader, CLI) does the same way around
// the library: stop signals, SIGPIPE, printing that survives a closed pipe,
// the one-line error and the exit codes, text made safe for a terminal.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "framebus/error.hpp"

namespace framebus::app {

// Exit codes of the program family.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the operation failed
inline constexpr int kExitUsage = 2;   // usage or input error (bad option or name, no such
                                       // segment, corrupt segment, permission)

// 2 for input errors (is_input_error), 1 otherwise.
[[nodiscard]] int exit_code_of(const Error& error);

// First thing in main(): a closed stdout or stderr (`prog 2>&1 | head -1`)
// makes writes fail with EPIPE (which print() ignores) instead of killing
// the program with SIGPIPE, so it still cleans up and exits as it would.
void ignore_sigpipe();

// SIGINT and SIGTERM set the stop flag that the program's loops check (no
// SA_RESTART: a blocking call returns early and the loop sees the flag).
// Installed once there is something to clean up; before, they kill at once.
void install_stop_handlers();
[[nodiscard]] bool stop_requested();
[[nodiscard]] int stop_signal();  // the signal that asked; 0 if none

// Writes `text` to `out` and flushes it. Never throws and never kills:
// false if the text could not be written (EPIPE: nobody reads the pipe any
// more), which a program whose output is its purpose (watch) takes as the
// end, and every other ignores.
bool write_text(std::FILE* out, std::string_view text) noexcept;

// fmt::print that never throws on a failed write (fmt's does), see write_text.
template <class... Args>
bool print(std::FILE* out, fmt::format_string<Args...> format, Args&&... args) {
    return write_text(out, fmt::format(format, std::forward<Args>(args)...));
}

// Safe for a terminal and for one line: bytes outside printable ASCII
// (control characters, escape sequences, newlines, non-ASCII) become \xNN.
// Every name, path and message a program prints goes through it.
[[nodiscard]] std::string printable(std::string_view text);

// `PROGRAM: error: MESSAGE` on stderr, the message made printable: the one
// line of a failure. Returns `exit_code`.
int report_error(std::string_view program, std::string_view message, int exit_code);
// The same with the error's exit code (exit_code_of).
int report_error(std::string_view program, const Error& error);

}  // namespace framebus::app
