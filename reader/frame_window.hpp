// The display side: an OpenCV (highgui) window showing leased frames, and
// the conversions a frame needs before imshow/imwrite understand it.
#pragma once

#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "framebus/frame.hpp"

namespace framebus::reader {

// A Mat that imshow and imwrite take as it is (BGR order, or gray): the
// frame itself when it already is one (no copy), else a conversion into
// `buffer` (allocated once and reused while the shape stays).
// `data` and `format` are a frame's (a lease's) slot and description.
[[nodiscard]] cv::Mat displayable(const std::byte* data, const FrameFormat& format,
                                  cv::Mat& buffer);

// Whether $DISPLAY names an X server we can open (x_display.cpp). Qt's highgui
// aborts the process when it cannot connect, so we look first.
[[nodiscard]] bool display_reachable(const std::string& display);

class FrameWindow {
  public:
    explicit FrameWindow(const std::string& segment_name);
    ~FrameWindow();
    FrameWindow(const FrameWindow&) = delete;
    FrameWindow& operator=(const FrameWindow&) = delete;

    // Hands the frame to the GUI. highgui copies it into the window's own
    // image, so the caller may release the lease as soon as this returns.
    void show(const cv::Mat& displayable_frame);
    void set_title(const std::string& title);
    // Runs the GUI event loop for up to wait_ms (at least 1); the key pressed, if any.
    [[nodiscard]] std::optional<int> pump(int wait_ms);
    // The user closed the window with the window manager's button.
    [[nodiscard]] bool closed() const;

  private:
    std::string id_;
    bool shown_ = false;
};

}  // namespace framebus::reader
