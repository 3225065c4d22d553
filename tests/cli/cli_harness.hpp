// Test harness for the `framebus` CLI: runs the real binary as a child
// process with its output captured, and starts writer / reader processes
// (library Writer and Reader in forked children) to give it segments to look at.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "framebus/frame.hpp"
#include "program.hpp"
#include "test_support.hpp"

namespace framebus::clitest {

using namespace std::chrono_literals;

using CliResult = test::ProgramRun;  // exit_code nullopt: killed at the timeout

// Runs `framebus args...` to completion (killed after `timeout`).
CliResult run_cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 20s);

// A `framebus` process left running (for watch), its output in a scratch
// directory: wait_for_out() sees its stdout as it comes.
class CliProcess : public test::Program {
  public:
    explicit CliProcess(const std::vector<std::string>& args);
};

// The frame format every test writer publishes.
inline const FrameFormat kFormat = FrameFormat::packed(64, 48, PixelFormat::bgr24);
inline constexpr std::uint32_t kSlots = 4;
inline constexpr std::uint32_t kMaxReaders = 3;

// A writer process: creates `name`, publishes `frames` frames of kFormat,
// reports ready, then heartbeats until told otherwise. With `keep_publishing`
// it goes on publishing one frame per `period` (a paced source, as a camera is).
class WriterProcess {
  public:
    WriterProcess(const std::string& name, std::uint64_t frames, bool keep_publishing = false,
                  std::chrono::milliseconds period = 5ms);
    pid_t pid() const { return child_->pid(); }
    // Marks end of stream; returns once the writer has done it.
    bool end_of_stream();
    // SIGKILL and reap: the segment is left behind with a dead writer.
    void kill_hard();

  private:
    std::unique_ptr<test::Pipe> ready_;
    std::unique_ptr<test::Pipe> commands_;
    std::unique_ptr<test::Pipe> acks_;
    std::unique_ptr<test::Child> child_;
};

// A reader process that leases the newest frame and holds the lease until
// killed. slot() / reader_index() are what it reported.
class HoldingReader {
  public:
    explicit HoldingReader(const std::string& name);
    pid_t pid() const { return child_->pid(); }
    std::uint32_t slot() const { return slot_; }
    std::uint32_t reader_index() const { return reader_index_; }
    std::uint64_t sequence() const { return sequence_; }
    void kill_hard();  // SIGKILL and reap: a dead reader still holding its lease

  private:
    std::unique_ptr<test::Pipe> report_;
    std::unique_ptr<test::Child> child_;
    std::uint32_t slot_ = 0;
    std::uint32_t reader_index_ = 0;
    std::uint64_t sequence_ = 0;
};

// The file of a segment in /dev/shm (read and written with test::read_file
// and test::write_file, byte for byte).
std::string shm_path(const std::string& name);

// Removes a /dev/shm file on scope exit (tests leave nothing behind).
class ShmFileGuard {
  public:
    explicit ShmFileGuard(std::string name) : name_(std::move(name)) {}
    ~ShmFileGuard();
    ShmFileGuard(const ShmFileGuard&) = delete;
    ShmFileGuard& operator=(const ShmFileGuard&) = delete;

  private:
    std::string name_;
};

// JSON output parsed strictly (a malformed document throws and fails the test).
nlohmann::json parse_json(const std::string& text);
// The entry of `ls --json` named `name`, if listed.
std::optional<nlohmann::json> ls_entry(const nlohmann::json& ls, const std::string& name);
// `key` is present in the object `tree` and null.
bool is_null(const nlohmann::json& tree, const std::string& key);

// Lines of `text` that contain `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle);

}  // namespace framebus::clitest
