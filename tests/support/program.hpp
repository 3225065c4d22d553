// Programs under test run as real child processes (fork + exec), their
// stdout and stderr captured in files; scratch directories; text helpers.
// Shared by the program tiers (writer, reader, cli); each tier adds its own
// binaries' paths and output parsers on top.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace framebus::test {

// A fresh directory under the system's temp dir, removed with everything in it.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::string file(const std::string& name) const {
        return (path_ / name).string();
    }

  private:
    std::filesystem::path path_;
};

struct ProgramOptions {
    std::vector<std::string> env;  // "NAME=value" added; "NAME=" with nothing unsets NAME
    std::optional<uid_t> run_as;   // setresuid/setresgid to this id before exec (needs root)
    std::filesystem::path cwd;     // empty: the test's own
};

// A program as a child process: stdin is /dev/null, stdout and stderr go to
// files, and it is SIGKILLed if the test process dies. Exit codes of a child
// that could not get as far as exec: 124 chdir, 125 run_as, 127 exec.
class Program {
  public:
    // Starts `argv` (argv[0] is the binary's path; PATH is not searched).
    // Output goes to files in `output_dir`.
    Program(const std::filesystem::path& output_dir, std::vector<std::string> argv,
            ProgramOptions options = {});
    // The same, with the output in a scratch directory of its own.
    explicit Program(std::vector<std::string> argv, ProgramOptions options = {});
    ~Program();  // SIGKILLs and reaps a program still running
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    void kill(int signal) const;  // nothing once it has been reaped
    // The exit code, -signal if killed, nullopt on timeout; once it has
    // exited, the same answer again.
    [[nodiscard]] std::optional<int> wait(std::chrono::milliseconds timeout);

    [[nodiscard]] std::string out() const;  // all it printed so far
    [[nodiscard]] std::string err() const;
    // Waits until stdout / stderr contains `text` `times` times (the
    // program's own report is the signal); false on timeout, or at once
    // when the program has exited without printing it.
    [[nodiscard]] bool wait_for_out(std::string_view text, std::chrono::milliseconds timeout,
                                    int times = 1);
    [[nodiscard]] bool wait_for_err(std::string_view text, std::chrono::milliseconds timeout,
                                    int times = 1);

  private:
    void start(const std::filesystem::path& output_dir, std::vector<std::string> argv,
               const ProgramOptions& options);
    bool reap(bool block);  // true once the exit code is known
    bool wait_for(const std::filesystem::path& file, std::string_view text,
                  std::chrono::milliseconds timeout, int times);

    std::unique_ptr<TempDir> own_dir_;  // first: removed after the child is reaped
    std::filesystem::path out_path_;
    std::filesystem::path err_path_;
    pid_t pid_ = -1;
    int pidfd_ = -1;  // readable once the child has exited; -1 where the kernel has none
    std::optional<int> exit_code_;
};

struct ProgramRun {
    std::optional<int> exit_code;  // nullopt: still running at the timeout (then killed)
    std::string out;
    std::string err;
};

// Runs `argv` to completion (SIGKILLed after `timeout`), output captured.
[[nodiscard]] ProgramRun run_program(std::vector<std::string> argv,
                                     std::chrono::milliseconds timeout);

// Lines of a text, without their newlines (and without an empty last one).
[[nodiscard]] std::vector<std::string> lines_of(const std::string& text);

// A file's bytes; nullopt if it cannot be opened (e.g. it does not exist).
[[nodiscard]] std::optional<std::string> read_file(const std::filesystem::path& path);
// The same, "" for a missing file.
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path);
// Creates or truncates `path` (mode 0600) with exactly `bytes`; throws on failure.
void write_file(const std::filesystem::path& path, const std::string& bytes);

}  // namespace framebus::test
