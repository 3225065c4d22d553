// The built-in moving test pattern: drawn straight into the slot, so it runs
// on any machine and every frame can be checked (the publisher stamps it).
// BGR, RGB and gray are drawn in place; every other format is drawn in BGR
// and converted into the slot by the OpenCV adapter's from_bgr.
#include <array>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "frame_source.hpp"
#include "framebus/opencv.hpp"
#include "framebus/stamp.hpp"

namespace framebus::writer {

namespace {

constexpr double kPatternFps = 30;

class TestPattern final : public FrameSource {
  public:
    TestPattern(std::uint32_t width, std::uint32_t height, PixelFormat format)
        : shape_{static_cast<int>(width), static_cast<int>(height), cv_type_of(format), format},
          rgb_(format == PixelFormat::rgb24) {}

    const std::string& description() const override { return description_; }
    Grab grab() override { return Grab::frame; }
    SourceShape expected_shape() const override { return shape_; }
    SourceShape shape_of(const cv::Mat& mat) const override {
        return {mat.cols, mat.rows, mat.type(), shape_.pixel_format};
    }
    double frame_rate() const override { return kPatternFps; }
    bool live() const override { return false; }
    bool stamps() const override { return true; }
    bool restart() override { return true; }
    bool writes_slots() const override { return true; }

    bool retrieve(cv::Mat& into, std::uint64_t sequence) override {
        into.create(shape_.height, shape_.width, CV_8UC3);
        draw(into, sequence);
        return true;
    }

    bool write_into(std::byte* slot, const FrameFormat& format, std::uint64_t sequence) override {
        switch (format.pixel_format) {
            case PixelFormat::bgr24:
            case PixelFormat::rgb24:
            case PixelFormat::gray8: {
                cv::Mat in_place = opencv_detail::plane_mat(slot, format, 0);
                draw(in_place, sequence);
                return true;
            }
            default:
                bgr_.create(static_cast<int>(format.height), static_cast<int>(format.width),
                            CV_8UC3);
                draw(bgr_, sequence);
                from_bgr(bgr_, slot, format, scratch_);
                return true;
        }
    }

  private:
    void draw(cv::Mat& frame, std::uint64_t sequence) const {
        draw_gradient(frame, sequence);
        draw_bar(frame, sequence);
        draw_number(frame, sequence);
    }

    // Diagonal colour ramps that drift a little every frame.
    void draw_gradient(cv::Mat& frame, std::uint64_t t) const {
        const int channels = frame.channels();
        const auto shift = static_cast<unsigned>(t);
        for (int y = 0; y < frame.rows; ++y) {
            auto* row = frame.ptr<std::uint8_t>(y);
            const unsigned vy = static_cast<unsigned>(y) + shift;
            for (int x = 0; x < frame.cols; ++x) {
                const unsigned vx = static_cast<unsigned>(x) + 2 * shift;
                if (channels == 1) {
                    row[x] = static_cast<std::uint8_t>((vx + vy) / 2);
                } else {
                    std::uint8_t* px = row + 3 * x;
                    const auto blue = static_cast<std::uint8_t>(vx);
                    const auto red = static_cast<std::uint8_t>(vy);
                    px[rgb_ ? 2 : 0] = blue;
                    px[1] = static_cast<std::uint8_t>((vx + vy) / 2);
                    px[rgb_ ? 0 : 2] = red;
                }
            }
        }
    }

    // A white bar sweeping left to right: motion a person sees at a glance.
    void draw_bar(cv::Mat& frame, std::uint64_t t) const {
        const int bar_width = std::max(2, frame.cols / 32);
        const int span = frame.cols + bar_width;
        const int x = static_cast<int>((t * 4) % static_cast<std::uint64_t>(span)) - bar_width;
        cv::rectangle(frame, cv::Rect(x, 0, bar_width, frame.rows), cv::Scalar::all(255),
                      cv::FILLED);
    }

    // The frame number, visibly (the stamp carries it for machines).
    void draw_number(cv::Mat& frame, std::uint64_t number) const {
        std::array<char, 32> text{};
        std::snprintf(text.data(), text.size(), "%llu", static_cast<unsigned long long>(number));
        const double scale = std::max(0.5, frame.rows / 160.0);
        const int thickness = std::max(1, static_cast<int>(scale * 2));
        const cv::Point origin(frame.cols / 20, frame.rows - frame.rows / 10);
        cv::putText(frame, text.data(), origin, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar::all(0),
                    thickness + 4, cv::LINE_AA);
        cv::putText(frame, text.data(), origin, cv::FONT_HERSHEY_SIMPLEX, scale,
                    cv::Scalar::all(255), thickness, cv::LINE_AA);
    }

    SourceShape shape_;
    bool rgb_ = false;
    cv::Mat bgr_;      // the picture, for formats drawn through BGR
    cv::Mat scratch_;  // from_bgr's intermediate
    std::string description_ = "test pattern";
};

}  // namespace

Result<std::unique_ptr<FrameSource>> make_test_pattern(std::uint32_t width, std::uint32_t height,
                                                       PixelFormat format) {
    const FrameFormat frame = FrameFormat::packed(width, height, format);
    if (frame.stride() < kStampBytes)
        return Error{Errc::invalid_argument,
                     "the test pattern needs rows of at least " + std::to_string(kStampBytes) +
                         " bytes for its frame stamp; " + std::to_string(width) + " pixels of " +
                         to_string(format) + " are " + std::to_string(frame.stride())};
    return std::unique_ptr<FrameSource>(std::make_unique<TestPattern>(width, height, format));
}

}  // namespace framebus::writer
