// framebus::opencv from the installed package: a frame drawn through a
// cv::Mat over the slot and read back through a cv::Mat over the lease.
#include <framebus/opencv.hpp>

#include <cstdio>

int main() {
    using namespace framebus;
    const FrameFormat format = FrameFormat::packed(64, 48, PixelFormat::bgr24);
    WriterOptions options;
    options.name = "consumer-opencv-example";
    options.initial_format = format;
    auto writer = Writer::create(options);
    if (!writer) return std::fprintf(stderr, "%s\n", writer.error().message.c_str()), 2;
    auto reader = Reader::open(options.name);
    if (!reader) return std::fprintf(stderr, "%s\n", reader.error().message.c_str()), 2;

    auto slot = writer->acquire(format);
    if (!slot) return std::fprintf(stderr, "%s\n", slot.error().message.c_str()), 2;
    as_mat(*slot).setTo(cv::Scalar(10, 20, 30));  // drawn in place, no copy
    slot->commit();

    if (reader->wait(std::chrono::seconds(1)) != WaitStatus::frame) return 1;
    auto lease = reader->latest();
    if (!lease) return 1;
    const cv::Mat frame = as_mat(*lease);
    const cv::Vec3b pixel = frame.at<cv::Vec3b>(47, 63);
    if (frame.cols != 64 || frame.rows != 48 || pixel != cv::Vec3b(10, 20, 30)) return 1;
    std::printf("opencv consumer: %dx%d frame read back through cv::Mat\n", frame.cols, frame.rows);
    return 0;
}
