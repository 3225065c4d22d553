// The real framebus-writer binary as a child process (test::Program), its
// summary line, and the scratch media it reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "program.hpp"

namespace framebus::test {

// `framebus-writer args...` as a child process, its output in files in `output_dir`.
class WriterProcess : public Program {
  public:
    WriterProcess(const std::vector<std::string>& args, const std::filesystem::path& output_dir);
};

// Runs the writer to completion (killed after `timeout`).
ProgramRun run_writer(const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

// "key=value" from the writer's exit summary line; nullopt if absent.
std::optional<std::uint64_t> summary_value(const std::string& stderr_text, const std::string& key);

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
