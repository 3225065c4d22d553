#include "frame_window.hpp"

#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>

#include "framebus/opencv.hpp"

namespace framebus::reader {

cv::Mat displayable(const std::byte* data, const FrameFormat& format, cv::Mat& buffer) {
    switch (format.pixel_format) {
        case PixelFormat::bgr24:
        case PixelFormat::gray8:
        case PixelFormat::bgra32:
        case PixelFormat::gray16:  // imshow scales it, PNG keeps 16 bits
            return opencv_detail::plane_mat(const_cast<std::byte*>(data), format, 0);
        default:  // RGB orders and YUV: the adapter's one conversion
            if (!to_bgr(data, format, buffer)) buffer.release();
            return buffer;
    }
}

FrameWindow::FrameWindow(const std::string& segment_name) : id_("framebus: " + segment_name) {
    // GUI_NORMAL: no toolbar or status bar, so the window shows the frame 1:1 and nothing else.
    cv::namedWindow(id_, cv::WINDOW_AUTOSIZE | cv::WINDOW_GUI_NORMAL);
}

FrameWindow::~FrameWindow() {
    try {
        cv::destroyWindow(id_);
        cv::waitKey(1);  // let the GUI process the close
    } catch (const cv::Exception&) {
        // Already closed by the user: nothing left to destroy.
    }
}

void FrameWindow::show(const cv::Mat& displayable_frame) {
    cv::imshow(id_, displayable_frame);
    shown_ = true;
}

void FrameWindow::set_title(const std::string& title) {
    cv::setWindowTitle(id_, title);
}

std::optional<int> FrameWindow::pump(int wait_ms) {
    const int key = cv::waitKey(wait_ms < 1 ? 1 : wait_ms);
    if (key < 0) return std::nullopt;
    return key;
}

bool FrameWindow::closed() const {
    return shown_ && cv::getWindowProperty(id_, cv::WND_PROP_VISIBLE) < 1.0;
}

}  // namespace framebus::reader
