// Real processes for the reader's tests: a program run with fork/exec, its
// stdout and stderr captured in files, its summary line parsed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "test_support.hpp"

namespace framebus::test {

// A scratch directory, removed with everything in it.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

struct ProgramOptions {
    std::vector<std::string> env;  // "NAME=value" added; "NAME=" with nothing unsets NAME
    std::optional<uid_t> run_as;   // setresuid/setresgid to this id before exec (needs root)
    std::filesystem::path cwd;     // empty: the test's own
};

class Program {
  public:
    // Starts `argv` (argv[0] is the binary's path). Output goes to files in `dir`.
    Program(const std::filesystem::path& dir, std::vector<std::string> argv,
            ProgramOptions options = {});

    [[nodiscard]] pid_t pid() const { return child_.pid(); }
    void kill(int signal) const { child_.kill(signal); }
    // The exit code, -signal if killed, nullopt on timeout.
    [[nodiscard]] std::optional<int> wait(std::chrono::milliseconds timeout) {
        return child_.wait_exit_code(timeout);
    }
    [[nodiscard]] std::string out() const;
    [[nodiscard]] std::string err() const;
    // Waits until stderr contains `text` `times` times (the program's own
    // report is the signal).
    [[nodiscard]] bool wait_for_err(std::string_view text, std::chrono::milliseconds timeout,
                                    int times = 1) const;

  private:
    std::filesystem::path out_path_;
    std::filesystem::path err_path_;
    Child child_;
};

// The reader's `summary:` line.
struct ReaderSummary {
    std::uint64_t frames = 0;
    std::uint64_t skipped = 0;
    std::uint64_t verified = 0;
    std::uint64_t mismatches = 0;
    double fps = 0;
    std::uint64_t latency_p50_us = 0;
    std::uint64_t latency_p99_us = 0;
    std::uint64_t writer_restarts = 0;
};
// Parses stdout that must be exactly one summary line.
[[nodiscard]] std::optional<ReaderSummary> parse_summary(const std::string& stdout_text);

[[nodiscard]] std::vector<std::string> lines_of(const std::string& text);
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

// Paths of the programs under test, from the build.
[[nodiscard]] std::string reader_bin();
[[nodiscard]] std::string writer_bin();       // the real framebus-writer when it is built
[[nodiscard]] std::string test_writer_bin();  // the known-content writer of these tests

}  // namespace framebus::test
