// Helpers of the reliability tier on top of tests/support's Program: summary
// lines, segment cleanup guards, stopping a program at a chosen moment.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "program.hpp"

namespace framebus::reliability {

using test::Program;

// Starts a program that a test may kill and replace (Program does not move).
std::unique_ptr<Program> start(std::vector<std::string> argv, test::ProgramOptions options = {});

// Still running (not exited, not yet reaped)?
bool running(Program& program);

// SIGSTOP, and waits until the kernel reports it stopped: its state is then
// frozen until SIGCONT. False if it exited instead.
bool stop(Program& program);

// Exit state and output, for failure messages.
std::string describe(Program& program);

// `key=value` fields of the first line of `text` that starts with `prefix`
// (e.g. "summary:" of framebus-reader, "writer summary:" of framebus-writer).
std::optional<std::map<std::string, std::string>> summary_fields(const std::string& text,
                                                                 const std::string& prefix);
std::uint64_t field_u64(const std::map<std::string, std::string>& fields, const std::string& key);

// Removes /dev/shm/<name> and its orphaned build temporaries when the test
// ends, passed or failed.
class SegmentGuard {
  public:
    explicit SegmentGuard(std::string name) : name_(std::move(name)) {}
    ~SegmentGuard();
    SegmentGuard(const SegmentGuard&) = delete;
    SegmentGuard& operator=(const SegmentGuard&) = delete;

  private:
    std::string name_;
};

// The writer's temporaries for `name` ("." names in /dev/shm ending in
// "-<name>") whose builder is dead; see framebus::orphaned_temporaries().
std::vector<std::string> orphaned_temporaries_of(const std::string& name);

// Polls `condition` every few milliseconds until it holds or `timeout` runs
// out: for states no process announces (a segment appearing, a reader
// counted in the table).
// utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15).
double cpu_seconds(pid_t pid);

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace framebus::reliability
