// Baseline (a) of bench/decode_libav.sh: what users would write instead of
// framebus-writer, OpenCV's VideoCapture::read into a private cv::Mat, every
// frame of FILE, as fast as it decodes.   framebus-bench-videocapture FILE
#include <chrono>
#include <cstdio>

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/videoio.hpp>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: framebus-bench-videocapture FILE\n");
        return 2;
    }
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    cv::VideoCapture capture(argv[1], cv::CAP_FFMPEG);
    if (!capture.isOpened()) {
        std::fprintf(stderr, "framebus-bench-videocapture: cannot open %s\n", argv[1]);
        return 2;
    }
    cv::Mat frame;
    unsigned long frames = 0;
    const auto start = std::chrono::steady_clock::now();
    while (capture.read(frame)) ++frames;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::printf("frames=%lu seconds=%.3f\n", frames, elapsed.count());
    return frames > 0 ? 0 : 1;
}
