// The real framebus-writer binary as a child process (posix_spawn), with its
// stdout and stderr captured in files, and the scratch media it reads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace framebus::test {

class WriterProcess {
  public:
    // Starts `framebus-writer args...`; output goes to files in `output_dir`.
    WriterProcess(const std::vector<std::string>& args, const std::filesystem::path& output_dir);
    ~WriterProcess();  // SIGKILLs and reaps a writer still running
    WriterProcess(const WriterProcess&) = delete;
    WriterProcess& operator=(const WriterProcess&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    void signal(int signal) const;
    // The exit code, -signal if killed, nullopt if still running at the timeout.
    std::optional<int> wait_exit_code(std::chrono::milliseconds timeout);

    [[nodiscard]] std::string stdout_text() const;
    [[nodiscard]] std::string stderr_text() const;

  private:
    pid_t pid_ = -1;
    std::filesystem::path stdout_path_;
    std::filesystem::path stderr_path_;
};

struct WriterRun {
    std::optional<int> exit_code;
    std::string out;
    std::string err;
};

// Runs the writer to completion (killed after `timeout`).
WriterRun run_writer(const std::vector<std::string>& args, const std::filesystem::path& output_dir,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

// "key=value" from the writer's exit summary line; nullopt if absent.
std::optional<std::uint64_t> summary_value(const std::string& stderr_text, const std::string& key);

// Lines of a text, without the empty last one.
std::vector<std::string> lines_of(const std::string& text);

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

// Distinct, textured BGR frames (so a wrong or shifted frame shows).
cv::Mat make_test_frame(int width, int height, int index);
// Writes `count` frames as MJPG in AVI; returns the frames as the writer
// will decode them (decoded again here with the same FFmpeg backend).
std::vector<cv::Mat> make_mjpg_avi(const std::string& path, int width, int height, int count,
                                   double fps = 25);

// A one-file HTTP/1.0 server on 127.0.0.1 (an ephemeral port), on a thread:
// every GET is answered with the whole file, then the connection closes, so
// each reader of the URL sees a stream that ends.
class FileHttpServer {
  public:
    explicit FileHttpServer(const std::string& file);
    ~FileHttpServer();
    FileHttpServer(const FileHttpServer&) = delete;
    FileHttpServer& operator=(const FileHttpServer&) = delete;
    [[nodiscard]] std::string url(const std::string& path) const;
    [[nodiscard]] int connections() const;

  private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace framebus::test
