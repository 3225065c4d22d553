// framebus-reader with a real window (issue 4): an X server (Xvfb), the
// reader showing a known picture, and screenshots of the X display compared
// with the frame. Label: window.
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "framebus/frame.hpp"
#include "framebus/stamp.hpp"
#include "programs.hpp"
#include "test_pattern.hpp"
#include "test_support.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

constexpr auto kExitTimeout = 30s;
constexpr int kFrameWidth = 640;
constexpr int kFrameHeight = 480;

// An X server of our own; -displayfd reports its display number once it
// accepts connections (the readiness signal).
class VirtualDisplay {
  public:
    explicit VirtualDisplay(const std::filesystem::path& dir) {
        int fds[2];
        if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
        ::fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        server_ = std::make_unique<Program>(
            dir, std::vector<std::string>{FRAMEBUS_XVFB, "-displayfd", std::to_string(fds[1]),
                                          "-screen", "0", "1024x768x24", "-nolisten", "tcp"});
        ::close(fds[1]);
        std::string digits;
        pollfd p{fds[0], POLLIN, 0};
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (::poll(&p, 1, 100) <= 0) continue;
            char c;
            if (::read(fds[0], &c, 1) != 1) break;  // EOF: the server died
            if (c == '\n') break;
            digits += c;
        }
        ::close(fds[0]);
        if (!digits.empty()) display_ = ":" + digits;
    }
    ~VirtualDisplay() {
        server_->kill(SIGTERM);
        (void)server_->wait(10s);
    }

    [[nodiscard]] const std::string& display() const { return display_; }
    [[nodiscard]] std::string server_errors() const { return server_->err(); }

    // The whole screen, as BGR pixels.
    [[nodiscard]] cv::Mat screenshot(const std::filesystem::path& dir) const {
        const auto png = dir / "screen.png";
        Program shot(dir, {"/bin/sh", "-c",
                           std::string(FRAMEBUS_XWD) + " -root -silent -display " + display_ +
                               " | " + FRAMEBUS_CONVERT + " xwd:- png:" + png.string()});
        if (shot.wait(kExitTimeout) != 0) return {};
        cv::Mat image = cv::imread(png.string(), cv::IMREAD_COLOR);
        // A copy for a human to look at, when asked for.
        if (const char* keep = std::getenv("FRAMEBUS_SCREENSHOT_DIR"); keep && !image.empty())
            cv::imwrite((std::filesystem::path(keep) / "framebus-reader-window.png").string(),
                        image);
        return image;
    }

  private:
    std::unique_ptr<Program> server_;
    std::string display_;
};

// A program with a window on that display, in `cwd` (where 's' saves).
ProgramOptions on_display(const VirtualDisplay& x, const std::filesystem::path& cwd = {}) {
    ProgramOptions options;
    options.env = {"DISPLAY=" + x.display()};
    options.cwd = cwd;
    return options;
}

cv::Vec3b bgr(const Rgb& c) {
    return {c.b, c.g, c.r};
}

// Where the blocks pattern appears on the screen: the top-left corner of the
// frame, if all four quadrants are there at their places, each of the right
// size and (nearly) all of the right colour.
std::optional<cv::Point> find_frame(const cv::Mat& screen, std::string& why) {
    if (screen.empty()) return why = "no screenshot", std::nullopt;
    // The bounding box of the top-left quadrant's colour.
    const cv::Vec3b first = bgr(kQuadrantColours[0]);
    int left = screen.cols, top = screen.rows, right = -1, bottom = -1;
    for (int y = 0; y < screen.rows; ++y)
        for (int x = 0; x < screen.cols; ++x)
            if (screen.at<cv::Vec3b>(y, x) == first) {
                left = std::min(left, x), right = std::max(right, x);
                top = std::min(top, y), bottom = std::max(bottom, y);
            }
    if (right < 0) return why = "the frame's colours are nowhere on the screen", std::nullopt;
    const int w = kFrameWidth / 2, h = kFrameHeight / 2;
    if (right - left + 1 != w || bottom - top + 1 != h)
        return why = "top-left block is " + std::to_string(right - left + 1) + "x" +
                     std::to_string(bottom - top + 1),
               std::nullopt;
    if (left + kFrameWidth > screen.cols || top + kFrameHeight > screen.rows)
        return why = "the frame runs off the screen", std::nullopt;
    for (std::size_t q = 0; q < 4; ++q) {
        const int x0 = left + (q % 2 == 1 ? w : 0);
        const int y0 = top + (q >= 2 ? h : 0);
        const cv::Vec3b colour = bgr(kQuadrantColours[q]);
        int matching = 0;
        for (int y = y0; y < y0 + h; ++y)
            for (int x = x0; x < x0 + w; ++x) matching += screen.at<cv::Vec3b>(y, x) == colour;
        // The stamp's few pixels in row 0 aside, every pixel is the frame's.
        if (matching < w * h - 16)
            return why = "block " + std::to_string(q) + " has only " + std::to_string(matching) +
                         " of " + std::to_string(w * h) + " pixels right",
                   std::nullopt;
    }
    return cv::Point(left, top);
}

// Screenshots until the frame shows (the window maps and paints on its own time).
std::optional<cv::Point> wait_for_frame_on_screen(const VirtualDisplay& x,
                                                  const std::filesystem::path& dir,
                                                  std::string& why) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
        if (auto where = find_frame(x.screenshot(dir), why)) return where;
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(200ms);
    }
}

// Key presses through the XTEST extension, loaded at run time (libX11 and
// libXtst come with the X libraries; no development headers needed). Without
// a window manager the key goes to the window under the pointer.
class FakeKeyboard {
  public:
    explicit FakeKeyboard(const std::string& display) {
        x11_ = ::dlopen("libX11.so.6", RTLD_NOW | RTLD_LOCAL);
        xtst_ = ::dlopen("libXtst.so.6", RTLD_NOW | RTLD_LOCAL);
        if (x11_ == nullptr || xtst_ == nullptr) return;
        open_ = symbol<void* (*)(const char*)>(x11_, "XOpenDisplay");
        close_ = symbol<int (*)(void*)>(x11_, "XCloseDisplay");
        keysym_ = symbol<unsigned long (*)(const char*)>(x11_, "XStringToKeysym");
        keycode_ = symbol<unsigned char (*)(void*, unsigned long)>(x11_, "XKeysymToKeycode");
        sync_ = symbol<int (*)(void*, int)>(x11_, "XSync");
        key_ = symbol<int (*)(void*, unsigned, int, unsigned long)>(xtst_, "XTestFakeKeyEvent");
        motion_ =
            symbol<int (*)(void*, int, int, int, unsigned long)>(xtst_, "XTestFakeMotionEvent");
        if (open_ && close_ && keysym_ && keycode_ && sync_ && key_ && motion_)
            connection_ = open_(display.c_str());
    }
    ~FakeKeyboard() {
        if (connection_ != nullptr) close_(connection_);
        if (xtst_ != nullptr) ::dlclose(xtst_);
        if (x11_ != nullptr) ::dlclose(x11_);
    }
    FakeKeyboard(const FakeKeyboard&) = delete;
    FakeKeyboard& operator=(const FakeKeyboard&) = delete;

    [[nodiscard]] bool usable() const { return connection_ != nullptr; }

    void press(const char* keysym_name, cv::Point pointer) {
        motion_(connection_, 0, pointer.x, pointer.y, 0);
        const unsigned code = keycode_(connection_, keysym_(keysym_name));
        key_(connection_, code, 1, 0);
        key_(connection_, code, 0, 0);
        sync_(connection_, 0);
    }

  private:
    template <class F>
    static F symbol(void* library, const char* name) {
        return reinterpret_cast<F>(::dlsym(library, name));
    }
    void* x11_ = nullptr;
    void* xtst_ = nullptr;
    void* connection_ = nullptr;
    void* (*open_)(const char*) = nullptr;
    int (*close_)(void*) = nullptr;
    unsigned long (*keysym_)(const char*) = nullptr;
    unsigned char (*keycode_)(void*, unsigned long) = nullptr;
    int (*sync_)(void*, int) = nullptr;
    int (*key_)(void*, unsigned, int, unsigned long) = nullptr;
    int (*motion_)(void*, int, int, int, unsigned long) = nullptr;
};

// The file named by the reader's last "saved FILE ..." line.
std::string last_saved_file(const std::string& err) {
    const auto at = err.rfind("saved ");
    if (at == std::string::npos) return {};
    const auto start = at + 6;
    return err.substr(start, err.find_first_of(" \n", start) - start);
}

// The blocks pattern, every pixel (the stamp's 8 pixels of row 0 aside).
std::size_t wrong_block_pixels(const cv::Mat& image) {
    if (image.cols != kFrameWidth || image.rows != kFrameHeight || image.type() != CV_8UC3)
        return static_cast<std::size_t>(kFrameWidth * kFrameHeight);
    std::size_t wrong = 0;
    for (int y = 0; y < image.rows; ++y)
        for (int x = (y == 0 ? 8 : 0); x < image.cols; ++x)
            wrong +=
                image.at<cv::Vec3b>(y, x) != bgr(block_colour(x, y, kFrameWidth, kFrameHeight));
    return wrong;
}

// Who publishes the picture: the real framebus-writer reading a PNG of the
// blocks (--loop), or the test writer drawing them; in which pixel format.
struct WindowCase {
    bool real_writer;
    const char* format;
};

void PrintTo(const WindowCase& c, std::ostream* out) {
    *out << (c.real_writer ? "framebus-writer " : "test writer ") << c.format;
}

std::string case_name(const ::testing::TestParamInfo<WindowCase>& info) {
    return std::string(info.param.real_writer ? "RealWriter_" : "TestWriter_") + info.param.format;
}

class ReaderWindowTest : public ::testing::TestWithParam<WindowCase> {
  protected:
    TempDir dir;
};

TEST_P(ReaderWindowTest, WindowShowsTheFrameAndKeepsItWhenTheWriterDies) {
    const WindowCase c = GetParam();
    if (c.real_writer && writer_bin() == test_writer_bin())
        GTEST_SKIP() << "framebus-writer is not part of this build";
    VirtualDisplay x(dir.path());
    ASSERT_FALSE(x.display().empty()) << "Xvfb did not start: " << x.server_errors();

    const std::string name = unique_name("window");
    std::vector<std::string> writer_args{test_writer_bin(), "--name", name,      "--pattern",
                                         "blocks",          "--size", "640x480", "--format",
                                         c.format,          "--fps",  "30"};
    if (c.real_writer) {
        cv::Mat blocks(kFrameHeight, kFrameWidth, CV_8UC3);
        draw_blocks(reinterpret_cast<std::byte*>(blocks.data),
                    FrameFormat::packed(kFrameWidth, kFrameHeight, PixelFormat::bgr24));
        const auto png = dir.path() / "blocks.png";
        ASSERT_TRUE(cv::imwrite(png.string(), blocks));
        writer_args = {writer_bin(), "--name",   name,     "--loop",  "--fps",
                       "30",         "--format", c.format, "--quiet", png.string()};
    }
    Program writer(dir.path(), writer_args);
    Program reader(dir.path(), {reader_bin(), "--wait", "10", "--duration", "60", name},
                   on_display(x));

    std::string why;
    const auto shown = wait_for_frame_on_screen(x, dir.path(), why);
    ASSERT_TRUE(shown) << why << "\nreader: " << reader.err();

    // The writer dies: the window says so and keeps the last frame.
    writer.kill(SIGKILL);
    ASSERT_EQ(writer.wait(kExitTimeout), -SIGKILL);
    ASSERT_TRUE(reader.wait_for_err("is gone", 10s)) << reader.err();
    const auto kept = find_frame(x.screenshot(dir.path()), why);
    ASSERT_TRUE(kept) << why;
    EXPECT_EQ(*kept, *shown);

    reader.kill(SIGTERM);
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_GT(summary->frames, 0u);
    remove_segment_file(name);  // the killed writer's
}

INSTANTIATE_TEST_SUITE_P(Writers, ReaderWindowTest,
                         ::testing::Values(WindowCase{true, "bgr24"}, WindowCase{true, "rgb24"},
                                           WindowCase{false, "bgr24"}, WindowCase{false, "rgb24"}),
                         case_name);

}  // namespace
}  // namespace framebus::test

namespace framebus::test {
namespace {

class ReaderKeysTest : public ::testing::Test {
  protected:
    TempDir dir;
};

TEST_F(ReaderKeysTest, SSavesTheFrameSpacePausesAndQQuits) {
    VirtualDisplay x(dir.path());
    ASSERT_FALSE(x.display().empty()) << "Xvfb did not start: " << x.server_errors();
    FakeKeyboard keyboard(x.display());
    if (!keyboard.usable()) GTEST_SKIP() << "no libX11/libXtst to press keys with";

    const std::string name = unique_name("keys");
    Program writer(dir.path(), {test_writer_bin(), "--name", name, "--pattern", "blocks", "--size",
                                "640x480", "--fps", "30"});
    Program reader(dir.path(), {reader_bin(), "--wait", "10", "--duration", "60", name},
                   on_display(x, dir.path()));
    std::string why;
    const auto shown = wait_for_frame_on_screen(x, dir.path(), why);
    ASSERT_TRUE(shown) << why << "\nreader: " << reader.err();
    const cv::Point inside = *shown + cv::Point(20, 20);

    // s: the frame on show, straight from the lease, stamp and all.
    keyboard.press("s", inside);
    ASSERT_TRUE(reader.wait_for_err("saved ", 10s)) << reader.err();
    const cv::Mat saved =
        cv::imread((dir.path() / last_saved_file(reader.err())).string(), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(wrong_block_pixels(saved), 0u) << last_saved_file(reader.err());
    EXPECT_EQ(check_stamp(reinterpret_cast<const std::byte*>(saved.data),
                          FrameFormat::packed(640, 480, PixelFormat::bgr24))
                  .check,
              StampCheck::ok);

    // space: paused; s now saves the frozen copy.
    keyboard.press("space", inside);
    ASSERT_TRUE(reader.wait_for_err("paused", 10s)) << reader.err();
    keyboard.press("s", inside);
    ASSERT_TRUE(reader.wait_for_err("saved ", 10s, 2)) << reader.err();
    EXPECT_EQ(wrong_block_pixels(cv::imread((dir.path() / last_saved_file(reader.err())).string(),
                                            cv::IMREAD_COLOR)),
              0u);
    keyboard.press("space", inside);
    ASSERT_TRUE(reader.wait_for_err("resumed", 10s)) << reader.err();

    // q: a clean exit with the summary.
    keyboard.press("q", inside);
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_GT(summary->frames, 0u);
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

}  // namespace
}  // namespace framebus::test
