// Which JPEG encoder framebus-serve uses: libturbojpeg (serve/jpeg_encoder.hpp)
// against OpenCV's imencode, for BGR frames and for I420 frames (where
// turbojpeg encodes the planes directly, after FrameEncoder stretches them from
// limited to full range, and imencode needs a conversion to BGR first). Same
// quality (80), same frames, same run; prints a markdown table.
//
//   framebus-serve-jpeg-bench [REPEATS]
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "frame_encoder.hpp"
#include "jpeg_encoder.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kQuality = 80;

double median_ms(int repeats, const std::function<void()>& encode) {
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        const auto start = Clock::now();
        encode();
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// Something like a camera picture: gradients, edges and some noise.
cv::Mat scene(int width, int height) {
    cv::Mat bgr(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            bgr.at<cv::Vec3b>(y, x) =
                cv::Vec3b(static_cast<uchar>(x * 255 / width), static_cast<uchar>(y * 255 / height),
                          static_cast<uchar>((x ^ y) & 0xff));
    cv::Mat noise(height, width, CV_8UC3);
    cv::randn(noise, 0, 12);
    bgr += noise;
    for (int i = 0; i < 20; ++i)
        cv::circle(bgr, {(i * 97) % width, (i * 57) % height}, 20 + i * 3,
                   cv::Scalar(i * 12, 255 - i * 12, 128), 3);
    return bgr;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace framebus::serve;
    const int repeats = argc > 1 ? std::atoi(argv[1]) : 60;
    JpegEncoder turbo;
    std::printf(
        "| frame | turbojpeg | OpenCV imencode | imencode / turbojpeg |\n|--|--:|--:|--:|\n");
    for (const cv::Size size : {cv::Size(640, 480), cv::Size(1920, 1080)}) {
        const cv::Mat bgr = scene(size.width, size.height);
        cv::Mat i420;
        cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
        std::vector<uchar> out;
        cv::Mat converted;

        const double turbo_bgr = median_ms(repeats, [&] {
            auto bytes = turbo.encode(reinterpret_cast<const std::byte*>(bgr.data), bgr.cols,
                                      bgr.rows, bgr.step[0], JpegInput::bgr, kQuality);
        });
        const double cv_bgr = median_ms(repeats, [&] {
            cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, kQuality});
        });
        // What framebus-serve does with an I420 slot (OpenCV's I420 Mat is the packed layout).
        FrameEncoder frame_encoder;
        const auto i420_format = framebus::FrameFormat::packed(
            static_cast<std::uint32_t>(size.width), static_cast<std::uint32_t>(size.height),
            framebus::PixelFormat::i420);
        const double turbo_i420 = median_ms(repeats, [&] {
            auto bytes = frame_encoder.jpeg(reinterpret_cast<const std::byte*>(i420.data),
                                            i420_format, Variant{kQuality, 0});
        });
        const double cv_i420 = median_ms(repeats, [&] {
            cv::cvtColor(i420, converted, cv::COLOR_YUV2BGR_I420);
            cv::imencode(".jpg", converted, out, {cv::IMWRITE_JPEG_QUALITY, kQuality});
        });
        std::printf("| %dx%d bgr24 | %.2f ms | %.2f ms | %.2fx |\n", size.width, size.height,
                    turbo_bgr, cv_bgr, cv_bgr / turbo_bgr);
        std::printf(
            "| %dx%d i420 (turbojpeg: range stretch first; imencode: to BGR first) | %.2f ms | "
            "%.2f ms | %.2fx |\n",
            size.width, size.height, turbo_i420, cv_i420, cv_i420 / turbo_i420);
    }
    return 0;
}
