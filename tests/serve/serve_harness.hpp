// What the serve tests share: a framebus-serve process on a free loopback
// port, writer processes, and frame checks on decoded images.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "mjpeg_client.hpp"
#include "program.hpp"

namespace framebus::test {

// framebus-serve on 127.0.0.1, port chosen by the kernel (--listen 127.0.0.1:0)
// and read from its "listening on" line.
class ServeProcess {
  public:
    explicit ServeProcess(std::vector<std::string> extra_args = {});
    [[nodiscard]] bool ready() const { return port_ != 0; }
    [[nodiscard]] unsigned short port() const { return port_; }
    [[nodiscard]] Program& program() { return *program_; }
    [[nodiscard]] std::optional<HttpReply> get(
        const std::string& target,
        std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        return http_get(port_, target, timeout);
    }
    // A counter of /api/stats; -1 if unreachable.
    [[nodiscard]] long long stat(const std::string& name) const;

  private:
    std::unique_ptr<Program> program_;
    unsigned short port_ = 0;
};

// framebus-writer's stamped test pattern (pattern = false) or the reader
// tests' writer with four solid quadrants (kQuadrantColours), both stamped.
// Returns once the segment has a frame.
std::unique_ptr<Program> start_writer(const std::string& name, double fps, bool blocks = false,
                                      std::vector<std::string> extra_args = {});

// Mean absolute difference of each quadrant's centre region from its colour.
[[nodiscard]] double blocks_error(const cv::Mat& bgr);

[[nodiscard]] cv::Mat decode(const std::string& bytes, int flags);

}  // namespace framebus::test
