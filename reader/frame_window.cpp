#include "frame_window.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>
#include <string_view>

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

namespace {
bool connects(const sockaddr_un& address, socklen_t length) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;
    ::close(fd);
    return ok;
}
}  // namespace

bool display_reachable(const std::string& display) {
    // [host]:number[.screen]; only local displays (no host, or "unix") are checked.
    const std::size_t colon = display.rfind(':');
    if (colon == std::string::npos) return false;
    const std::string_view host(display.data(), colon);
    if (!host.empty() && host != "unix") return true;
    const std::string_view rest(display.data() + colon + 1, display.size() - colon - 1);
    unsigned number = 0;
    auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
    if (error != std::errc{} || end == rest.data()) return false;

    const std::string path = "/tmp/.X11-unix/X" + std::to_string(number);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // The X server listens on both the abstract name and the file.
    std::memcpy(address.sun_path + 1, path.data(), path.size());
    if (connects(address,
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + path.size())))
        return true;
    std::memset(address.sun_path, 0, sizeof address.sun_path);
    std::memcpy(address.sun_path, path.data(), path.size());
    return connects(address, sizeof address);
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
