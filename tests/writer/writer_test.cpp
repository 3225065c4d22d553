// framebus-writer, the real binary, against a library Reader (issue 3).
// Synchronisation is by real events only: the Reader waits for the segment to
// appear and for frames (futex), the writer's exit is seen with waitpid.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <map>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "framebus/opencv.hpp"
#include "framebus/reader.hpp"
#include "framebus/stamp.hpp"
#include "test_support.hpp"
#include "writer_process.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

// Removes a segment left behind on purpose (--keep), whatever the test did.
struct SegmentCleanup {
    std::string name;
    ~SegmentCleanup() { remove_segment_file(name); }
};

struct ReceivedFrame {
    std::uint64_t sequence = 0;
    FrameFormat format;
    cv::Mat pixels;  // a copy, taken while the lease was held
    StampResult stamp;
};

// Reads every frame in `next` order until the stream ends (or `until` says so).
class FrameCollector {
  public:
    explicit FrameCollector(const std::string& name) {
        ReaderOptions options;
        options.wait_for_segment = 20s;
        auto reader = Reader::open(name, options);
        if (reader)
            reader_.emplace(std::move(*reader));
        else
            problem = reader.error().message;
    }

    [[nodiscard]] bool opened() const { return reader_.has_value(); }

    WaitStatus drain(std::chrono::milliseconds timeout, const std::function<bool()>& until = {}) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (until && until()) return WaitStatus::frame;
            auto lease = reader_->next();
            if (lease) {
                ReceivedFrame frame;
                frame.sequence = lease->sequence();
                frame.format = lease->format();
                frame.pixels = as_mat(*lease).clone();
                frame.stamp = check_stamp(lease->data(), lease->format());
                frames.push_back(std::move(frame));
                continue;
            }
            if (lease.error().code != Errc::no_frame) {
                problem = lease.error().message;
                return WaitStatus::timed_out;
            }
            const auto remaining = deadline - std::chrono::steady_clock::now();
            if (remaining <= 0s) return WaitStatus::timed_out;
            const WaitStatus status = reader_->wait(remaining);
            switch (status) {
                case WaitStatus::frame:
                    continue;
                case WaitStatus::replaced: {
                    auto followed = reader_->follow();
                    if (!followed || !*followed) return status;  // nothing to follow
                    ++replacements;
                    continue;
                }
                default:
                    return status;
            }
        }
    }

    Reader& reader() { return *reader_; }

    std::vector<ReceivedFrame> frames;
    int replacements = 0;
    std::string problem;

  private:
    std::optional<Reader> reader_;
};

std::uint64_t max_abs_diff(const cv::Mat& a, const cv::Mat& b) {
    if (a.size() != b.size() || a.type() != b.type()) return 1000;
    double max = 0;
    cv::Mat diff;
    cv::absdiff(a, b, diff);
    cv::minMaxLoc(diff.reshape(1), nullptr, &max);
    return static_cast<std::uint64_t>(max);
}

class WriterProgram : public ::testing::Test {
  protected:
    TempDir dir;
};

// ---- command line -----------------------------------------------------------

TEST_F(WriterProgram, HelpAndVersionPrintAndExitZero) {
    auto help = run_writer({"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("Usage: framebus-writer"), std::string::npos) << help.out;
    for (const char* option :
         {"--name", "--slots", "--max-readers", "--leases-per-reader", "--fps", "--loop",
          "--resize", "--format", "--max-frames", "--keep", "--mode", "--quiet", "--source-type",
          "--camera-size", "--camera-fps", "--reconnect"})
        EXPECT_NE(help.out.find(option), std::string::npos) << option;

    auto version = run_writer({"--version"});
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_TRUE(version.out.starts_with("framebus-writer ")) << version.out;
}

// ---- video file ---------------------------------------------------------------

TEST_F(WriterProgram, PublishesEveryFrameOfAVideoFileThenEndsTheStream) {
    const std::string video = dir.file("clip.avi");
    const auto expected = make_mjpg_avi(video, 64, 48, 8);
    const std::string name = unique_name("wr-file");
    SegmentCleanup cleanup{name};

    // The writer holds its first frame until the reader is attached, and the
    // ring has a slot for every frame: the reader sees all eight, however slow.
    WriterProcess writer({"--name", name, "--fps", "0", "--slots", "12", "--wait-readers", "1",
                          "--format", "bgr24", video},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream) << collector.problem;
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();

    ASSERT_EQ(collector.frames.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& frame = collector.frames[i];
        EXPECT_EQ(frame.sequence, i + 1);
        EXPECT_EQ(frame.format, FrameFormat::packed(64, 48, PixelFormat::bgr24));
        EXPECT_EQ(max_abs_diff(frame.pixels, expected[i]), 0u) << "frame " << i;
    }
    const std::string err = writer.err();
    EXPECT_EQ(summary_value(err, "frames"), 8u) << err;
    EXPECT_EQ(summary_value(err, "decode_errors"), 0u) << err;
}

TEST_F(WriterProgram, DecodesStraightIntoTheSlotWhenTheFrameMatchesTheSlotFormat) {
    const std::string video = dir.file("clip.avi");
    make_mjpg_avi(video, 160, 120, 12);
    const std::string name = unique_name("wr-zerocopy");
    auto run = run_writer({"--name", name, "--fps", "0", "--quiet", video});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(summary_value(run.err, "frames"), 12u) << run.err;
    EXPECT_EQ(summary_value(run.err, "zero_copy_misses"), 0u) << run.err;
    EXPECT_FALSE(segment_exists(name));
}

TEST_F(WriterProgram, CountsAZeroCopyMissWhenTheDecoderChangesShapeAndReplacesTheSegment) {
    // An image sequence whose frames grow half-way: the decoder cannot write
    // the bigger frame into the smaller slot, so it is copied once (a visible
    // miss), the segment is replaced, and later frames are zero-copy again.
    for (int i = 0; i < 6; ++i) {
        const int width = i < 3 ? 64 : 128;
        const int height = i < 3 ? 48 : 96;
        cv::imwrite(dir.file(cv::format("img_%04d.png", i)), make_test_frame(width, height, i));
    }
    const std::string name = unique_name("wr-shape");
    SegmentCleanup cleanup{name};
    // --keep: the replacement is still there for the reader to follow to,
    // however fast the writer finishes.
    WriterProcess writer({"--name", name, "--fps", "0", "--quiet", "--wait-readers", "1", "--keep",
                          dir.file("img_%04d.png")},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream) << collector.problem;
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    const std::string err = writer.err();
    EXPECT_EQ(summary_value(err, "frames"), 6u) << err;
    EXPECT_EQ(summary_value(err, "zero_copy_misses"), 1u) << err;
    EXPECT_EQ(summary_value(err, "replaced"), 1u) << err;

    // The reader drained the first segment, then followed to the replacement
    // (where sequences start at 1 again; it may join there after frame 1).
    EXPECT_EQ(collector.replacements, 1);
    ASSERT_GE(collector.frames.size(), 4u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(collector.frames[i].sequence, i + 1);
        EXPECT_EQ(collector.frames[i].format, FrameFormat::packed(64, 48, PixelFormat::bgr24));
        EXPECT_EQ(
            max_abs_diff(collector.frames[i].pixels, make_test_frame(64, 48, static_cast<int>(i))),
            0u);
    }
    for (std::size_t i = 3; i < collector.frames.size(); ++i) {
        const auto& frame = collector.frames[i];
        EXPECT_EQ(frame.format, FrameFormat::packed(128, 96, PixelFormat::bgr24));
        EXPECT_EQ(max_abs_diff(frame.pixels,
                               make_test_frame(128, 96, static_cast<int>(frame.sequence) + 2)),
                  0u);
    }
    EXPECT_EQ(collector.frames.back().sequence, 3u);
}

TEST_F(WriterProgram, MaxFramesStopsTheFileEarly) {
    const std::string video = dir.file("clip.avi");
    make_mjpg_avi(video, 64, 48, 10);
    const std::string name = unique_name("wr-maxframes");
    WriterProcess writer({"--name", name, "--fps", "0", "--slots", "12", "--wait-readers", "1",
                          "--max-frames", "3", video},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0);
    ASSERT_EQ(collector.frames.size(), 3u);
    EXPECT_EQ(collector.frames.back().sequence, 3u);
}

TEST_F(WriterProgram, LoopRestartsTheFileAtItsEnd) {
    const std::string video = dir.file("clip.avi");
    const auto expected = make_mjpg_avi(video, 64, 48, 4);
    const std::string name = unique_name("wr-loop");
    WriterProcess writer({"--name", name, "--fps", "0", "--slots", "12", "--wait-readers", "1",
                          "--loop", "--max-frames", "10", "--format", "bgr24", video},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    ASSERT_EQ(collector.frames.size(), 10u);  // more than the file has
    for (std::size_t i = 0; i < collector.frames.size(); ++i)
        EXPECT_EQ(max_abs_diff(collector.frames[i].pixels, expected[i % expected.size()]), 0u)
            << "frame " << i;
}

TEST_F(WriterProgram, ResizeAndFormatShapeThePublishedFrames) {
    const std::string video = dir.file("clip.avi");
    const auto decoded = make_mjpg_avi(video, 64, 48, 3);
    const std::string name = unique_name("wr-resize");
    // OpenCV's conversion and INTER_AREA resize (libav's sws_scale is tested in libav_test.cpp).
    WriterProcess writer({"--name", name, "--fps", "0", "--wait-readers", "1", "--resize", "32x24",
                          "--format", "gray8", "--decoder", "opencv", video},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    ASSERT_EQ(collector.frames.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(collector.frames[i].format, FrameFormat::packed(32, 24, PixelFormat::gray8));
        cv::Mat gray, small;
        cv::cvtColor(decoded[i], gray, cv::COLOR_BGR2GRAY);
        cv::resize(gray, small, cv::Size(32, 24), 0, 0, cv::INTER_AREA);
        EXPECT_LE(max_abs_diff(collector.frames[i].pixels, small), 1u) << "frame " << i;
    }
}

TEST_F(WriterProgram, FormatRgb24SwapsTheChannels) {
    const std::string video = dir.file("clip.avi");
    const auto decoded = make_mjpg_avi(video, 64, 48, 2);
    const std::string name = unique_name("wr-rgb");
    WriterProcess writer({"--name", name, "--fps", "0", "--wait-readers", "1", "--quiet",
                          "--format", "rgb24", video},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    ASSERT_EQ(collector.frames.size(), 2u);
    cv::Mat rgb;
    cv::cvtColor(decoded[1], rgb, cv::COLOR_BGR2RGB);
    EXPECT_EQ(collector.frames[1].format.pixel_format, PixelFormat::rgb24);
    EXPECT_EQ(max_abs_diff(collector.frames[1].pixels, rgb), 0u);
}

TEST_F(WriterProgram, DamagedFileIsDecodedAsFarAsPossibleAndTheLossCounted) {
    const std::string video = dir.file("damaged.avi");
    make_mjpg_avi(video, 64, 48, 20);
    {
        // Garbage over a stretch in the middle of the file.
        std::fstream file(video, std::ios::in | std::ios::out | std::ios::binary);
        file.seekg(0, std::ios::end);
        const auto size = static_cast<std::streamoff>(file.tellg());
        file.seekp(size * 3 / 10);
        for (int i = 0; i < 3000; ++i) file.put(static_cast<char>(i * 37));
    }
    const std::string name = unique_name("wr-damaged");
    auto run = run_writer({"--name", name, "--fps", "0", video}, 20s);
    ASSERT_EQ(run.exit_code, 0) << run.err;  // never a crash or a hang
    const auto frames = summary_value(run.err, "frames");
    const auto errors = summary_value(run.err, "decode_errors");
    ASSERT_TRUE(frames && errors) << run.err;
    EXPECT_GE(*frames, 10u) << run.err;
    EXPECT_GE(*errors, 1u) << run.err;
    EXPECT_EQ(*frames + *errors, 20u) << run.err;  // every announced frame accounted for
    EXPECT_FALSE(segment_exists(name));
}

// ---- image sequence -------------------------------------------------------------

TEST_F(WriterProgram, PublishesAnImageSequenceExactly) {
    std::vector<cv::Mat> images;
    for (int i = 0; i < 6; ++i) {
        images.push_back(make_test_frame(80, 60, i));
        cv::imwrite(dir.file(cv::format("frame_%03d.png", i)), images.back());
    }
    const std::string name = unique_name("wr-sequence");
    WriterProcess writer(
        {"--name", name, "--fps", "0", "--wait-readers", "1", dir.file("frame_%03d.png")},
        dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    ASSERT_EQ(collector.frames.size(), images.size());
    for (std::size_t i = 0; i < images.size(); ++i)
        EXPECT_EQ(max_abs_diff(collector.frames[i].pixels, images[i]), 0u) << "image " << i;
    EXPECT_EQ(summary_value(writer.err(), "zero_copy_misses"), 0u);
}

TEST_F(WriterProgram, ImageThatDoesNotDecodeIsCountedAndSteppedOver) {
    std::vector<cv::Mat> images;
    for (int i = 0; i < 6; ++i) {
        images.push_back(make_test_frame(80, 60, i));
        cv::imwrite(dir.file(cv::format("frame_%03d.png", i)), images.back());
    }
    std::ofstream(dir.file("frame_002.png"), std::ios::trunc) << "not a png at all";
    const std::string name = unique_name("wr-badimage");
    WriterProcess writer(
        {"--name", name, "--fps", "0", "--wait-readers", "1", dir.file("frame_%03d.png")},
        dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    const std::string err = writer.err();
    EXPECT_EQ(summary_value(err, "frames"), 5u) << err;
    EXPECT_EQ(summary_value(err, "decode_errors"), 1u) << err;
    ASSERT_EQ(collector.frames.size(), 5u);
    const int shown[] = {0, 1, 3, 4, 5};
    for (std::size_t i = 0; i < 5; ++i)
        EXPECT_EQ(max_abs_diff(collector.frames[i].pixels, images[shown[i]]), 0u) << "frame " << i;
}

// ---- live sources: stream URL, GStreamer pipeline ---------------------------------

TEST_F(WriterProgram, PublishesAStreamUrl) {
    const std::string video = dir.file("clip.avi");
    const auto expected = make_mjpg_avi(video, 64, 48, 6);
    FileHttpServer server(video);
    const std::string name = unique_name("wr-url");
    WriterProcess writer({"--name", name, "--no-reconnect", "--slots", "8", "--wait-readers", "1",
                          "--format", "bgr24", server.url("clip.avi")},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    ASSERT_EQ(collector.frames.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        EXPECT_EQ(max_abs_diff(collector.frames[i].pixels, expected[i]), 0u) << "frame " << i;
    EXPECT_EQ(summary_value(writer.err(), "reconnects"), 0u);
}

TEST_F(WriterProgram, StreamThatStopsDeliveringIsReconnectedWithTheSegmentKept) {
    const std::string video = dir.file("clip.avi");
    make_mjpg_avi(video, 64, 48, 6);
    FileHttpServer server(video);
    const std::string name = unique_name("wr-reconnect");
    // Each connection delivers six frames and ends; --reconnect is the default
    // for URLs, so the writer reopens it (same segment, sequences go on).
    WriterProcess writer({"--name", name, "--slots", "20", "--wait-readers", "1", "--max-frames",
                          "15", server.url("clip.avi")},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(30s), WaitStatus::end_of_stream) << collector.problem;
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    EXPECT_EQ(collector.replacements, 0);
    ASSERT_EQ(collector.frames.size(), 15u);
    EXPECT_EQ(collector.frames.back().sequence, 15u);
    const std::string err = writer.err();
    EXPECT_EQ(summary_value(err, "reconnects"), 2u) << err;
    EXPECT_NE(err.find("reconnect attempt"), std::string::npos) << err;  // the status said so
}

TEST_F(WriterProgram, GStreamerPipelineEndsAtItsEndOfStreamUnlessReconnectIsAsked) {
    const std::string pipeline =
        "videotestsrc num-buffers=5 ! video/x-raw,width=96,height=64 ! videoconvert ! appsink";
    {
        cv::VideoCapture probe(pipeline, cv::CAP_GSTREAMER);
        if (!probe.isOpened()) GTEST_SKIP() << "GStreamer's videotestsrc is not available";
    }
    const std::string name = unique_name("wr-gst");
    auto once = run_writer({"--name", name, "--quiet", pipeline});
    ASSERT_EQ(once.exit_code, 0) << once.err;
    EXPECT_EQ(summary_value(once.err, "frames"), 5u) << once.err;
    EXPECT_EQ(summary_value(once.err, "reconnects"), 0u) << once.err;
    EXPECT_FALSE(segment_exists(name));

    auto run = run_writer({"--name", name, "--reconnect", "--max-frames", "12", pipeline});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(summary_value(run.err, "frames"), 12u) << run.err;
    EXPECT_EQ(summary_value(run.err, "reconnects"), 2u) << run.err;
    EXPECT_EQ(summary_value(run.err, "zero_copy_misses"), 0u) << run.err;
}

// ---- test pattern -----------------------------------------------------------------

TEST_F(WriterProgram, TestPatternFramesCarryTheirSequenceInAStamp) {
    const std::string name = unique_name("wr-pattern");
    // Default size, format and 30 fps pacing; no --keep: the segment goes at exit.
    WriterProcess writer({"--name", name, "--max-frames", "30", "--wait-readers", "1"}, dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream) << collector.problem;
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    EXPECT_FALSE(segment_exists(name));

    ASSERT_FALSE(collector.frames.empty());
    EXPECT_EQ(collector.frames.back().sequence, 30u);
    EXPECT_EQ(collector.frames.front().sequence, 1u);
    EXPECT_EQ(collector.frames.size() + collector.reader().skipped(), 30u);
    for (const auto& frame : collector.frames) {
        EXPECT_EQ(frame.format, FrameFormat::packed(640, 480, PixelFormat::bgr24));
        EXPECT_EQ(frame.stamp.check, StampCheck::ok) << "frame " << frame.sequence;
        EXPECT_EQ(frame.stamp.number, frame.sequence);
    }
    // It moves: two frames differ beyond their stamps.
    ASSERT_GE(collector.frames.size(), 2u);
    EXPECT_GT(max_abs_diff(collector.frames.front().pixels.rowRange(1, 480),
                           collector.frames.back().pixels.rowRange(1, 480)),
              0u);
    EXPECT_EQ(summary_value(writer.err(), "zero_copy_misses"), 0u);
}

TEST_F(WriterProgram, TestPatternIsDrawnAndStampedInEveryPixelFormat) {
    std::map<std::string, std::vector<ReceivedFrame>> runs;
    for (const PixelFormatInfo& info : pixel_formats()) {
        const std::string format = info.name;
        const std::string name = unique_name("wr-patfmt-" + format);
        WriterProcess writer({"--name", name, "--fps", "0", "--wait-readers", "1", "--quiet",
                              "--max-frames", "3", "--resize", "320x240", "--format", format},
                             dir.path());
        FrameCollector collector(name);
        ASSERT_TRUE(collector.opened()) << collector.problem;
        EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
        ASSERT_EQ(writer.wait(20s), 0) << writer.err();
        EXPECT_EQ(summary_value(writer.err(), "zero_copy_misses"), 0u) << format;
        ASSERT_EQ(collector.frames.size(), 3u) << format;
        for (const auto& frame : collector.frames) {
            EXPECT_EQ(frame.format, FrameFormat::packed(320, 240, info.format)) << format;
            // The stamp's checksum covers every plane: --verify works for YUV too.
            EXPECT_EQ(frame.stamp.check, StampCheck::ok) << format;
            EXPECT_EQ(frame.stamp.number, frame.sequence) << format;
        }
        runs[format] = std::move(collector.frames);
    }
    // Same frame number, same picture: rgb24 is bgr24 with red and blue in
    // their places (row 0 holds the stamps, which differ).
    const cv::Mat bgr = runs["bgr24"][1].pixels;
    cv::Mat rgb_expected;
    cv::cvtColor(bgr, rgb_expected, cv::COLOR_BGR2RGB);
    EXPECT_EQ(max_abs_diff(runs["rgb24"][1].pixels.rowRange(1, 240), rgb_expected.rowRange(1, 240)),
              0u);
    EXPECT_NE(max_abs_diff(runs["rgb24"][1].pixels.rowRange(1, 240), bgr.rowRange(1, 240)), 0u);
    // Every other format shows the same picture once converted back to BGR
    // (colour formats within YUV's rounding; gray formats as gray).
    cv::Mat gray_expected, gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(gray, gray_expected, cv::COLOR_GRAY2BGR);
    for (const PixelFormatInfo& info : pixel_formats()) {
        const ReceivedFrame& frame = runs[info.name][1];
        cv::Mat shown;
        ASSERT_TRUE(to_bgr(reinterpret_cast<const std::byte*>(frame.pixels.data),
                           FrameFormat::packed(320, 240, info.format), shown));
        // gray8 is drawn natively (its own ramp), not converted from BGR.
        if (info.format == PixelFormat::gray8) continue;
        const bool is_gray =
            info.format == PixelFormat::gray8 || info.format == PixelFormat::gray16;
        const cv::Rect below_stamps(0, 2, 320, 238);
        EXPECT_GE(cv::PSNR(shown(below_stamps), (is_gray ? gray_expected : bgr)(below_stamps)),
                  30.0)
            << info.name;
    }
}

// --reuse-newest: a reader taking every frame (and letting it go) gets all
// of them, intact, while the writer writes over the frame it has just had.
TEST_F(WriterProgram, ReuseNewestLosesNoFrameAndWritesOverTheOneTheReaderHad) {
    const std::string name = unique_name("wr-reuse");
    WriterProcess writer({"--name", name, "--max-frames", "30", "--wait-readers", "1", "--resize",
                          "160x120", "--reuse-newest"},
                         dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream) << collector.problem;
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    EXPECT_NE(writer.err().find("reusing the newest frame's slot"), std::string::npos)
        << writer.err();
    EXPECT_EQ(collector.frames.size(), 30u) << "paced at 30 fps, the reader keeps up";
    EXPECT_EQ(collector.reader().skipped(), 0u);
    for (const auto& frame : collector.frames)
        EXPECT_EQ(frame.stamp.check, StampCheck::ok) << "frame " << frame.sequence;
    EXPECT_GT(summary_value(writer.err(), "newest_reused").value_or(0), 0u) << writer.err();
}

TEST_F(WriterProgram, LeasesPerReaderSizesTheRingAndTheStartupLineSaysSo) {
    for (const auto& [args, slots, leases] :
         {std::tuple{std::vector<std::string>{}, 18u, 2u},
          std::tuple{std::vector<std::string>{"--max-readers", "3", "--leases-per-reader", "4"},
                     14u, 4u}}) {
        const std::string name = unique_name("wr-leases");
        std::vector<std::string> argv{"--name",         name, "--max-frames", "2",    "--fps", "0",
                                      "--wait-readers", "1",  "--resize",     "64x48"};
        argv.insert(argv.end(), args.begin(), args.end());
        WriterProcess writer(argv, dir.path());
        FrameCollector collector(name);
        ASSERT_TRUE(collector.opened()) << collector.problem;
        EXPECT_EQ(collector.reader().max_leases(), leases);
        EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
        ASSERT_EQ(writer.wait(20s), 0) << writer.err();
        const std::string expected = std::to_string(slots) + " slots";
        EXPECT_NE(writer.err().find(expected), std::string::npos) << writer.err();
        EXPECT_NE(writer.err().find(std::to_string(leases) + " leases each"), std::string::npos)
            << writer.err();
    }
}

// ---- signals ------------------------------------------------------------------------

class WriterSignal : public WriterProgram, public ::testing::WithParamInterface<int> {};

TEST_P(WriterSignal, EndsTheStreamRemovesTheSegmentAndExitsZero) {
    const std::string name = unique_name("wr-signal");
    WriterProcess writer({"--name", name, "--quiet"}, dir.path());  // runs until told
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    // Frames are flowing (a real frame seen) before the signal goes.
    collector.drain(20s, [&] { return !collector.frames.empty(); });
    ASSERT_FALSE(collector.frames.empty()) << collector.problem;
    writer.kill(GetParam());
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    EXPECT_FALSE(segment_exists(name));
    for (const auto& frame : collector.frames) EXPECT_EQ(frame.stamp.check, StampCheck::ok);
    EXPECT_TRUE(summary_value(writer.err(), "frames").has_value());
}

INSTANTIATE_TEST_SUITE_P(Signals, WriterSignal, ::testing::Values(SIGTERM, SIGINT),
                         [](const auto& info) {
                             return std::string(info.param == SIGTERM ? "SIGTERM" : "SIGINT");
                         });

TEST_F(WriterProgram, KeepLeavesTheEndedSegmentAfterSigterm) {
    const std::string name = unique_name("wr-keep");
    SegmentCleanup cleanup{name};
    WriterProcess writer({"--name", name, "--quiet", "--keep"}, dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    collector.drain(20s, [&] { return !collector.frames.empty(); });
    writer.kill(SIGTERM);
    EXPECT_EQ(collector.drain(20s), WaitStatus::end_of_stream);
    ASSERT_EQ(writer.wait(20s), 0);
    EXPECT_TRUE(segment_exists(name));
    FrameCollector later(name);  // still readable: its newest frame, then the end
    ASSERT_TRUE(later.opened()) << later.problem;
    EXPECT_EQ(later.drain(10s), WaitStatus::end_of_stream);
    ASSERT_EQ(later.frames.size(), 1u);
    EXPECT_EQ(later.frames[0].sequence, collector.frames.back().sequence);
    EXPECT_EQ(later.frames[0].stamp.check, StampCheck::ok);
}

// ---- bad input -------------------------------------------------------------------------

struct BadInput {
    const char* label;
    std::vector<std::string> args;  // "{dir}" is replaced by the test's directory
    const char* named;              // the thing the message must name
};

void PrintTo(const BadInput& bad, std::ostream* out) {
    *out << bad.label;
}

class WriterBadInput : public WriterProgram, public ::testing::WithParamInterface<BadInput> {};

TEST_P(WriterBadInput, ExitsTwoWithOneLineNamingItAndLeavesNothing) {
    const BadInput& bad = GetParam();
    std::ofstream(dir.file("notes.txt")) << "these are notes, not a video\n";
    // A PNG cut short: the right signature, the pixels missing.
    std::vector<uchar> png;
    cv::imencode(".png", make_test_frame(64, 48, 0), png);
    std::ofstream(dir.file("broken_000.png"), std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), 100);

    const std::string name = unique_name(std::string("wr-bad-") + bad.label);
    std::vector<std::string> args;
    bool has_name = false;
    for (std::string arg : bad.args) {
        if (const auto at = arg.find("{dir}"); at != std::string::npos)
            arg.replace(at, 5, dir.path().string());
        has_name = has_name || arg == "--name";
        args.push_back(arg);
    }
    if (!has_name) args.insert(args.begin(), {"--name", name});

    auto run = run_writer(args, 20s);
    EXPECT_EQ(run.exit_code, 2) << run.err;
    const auto lines = lines_of(run.err);
    ASSERT_EQ(lines.size(), 1u) << run.err;
    EXPECT_TRUE(lines[0].starts_with("framebus-writer: error: ")) << lines[0];
    EXPECT_NE(lines[0].find(bad.named), std::string::npos) << lines[0];
    EXPECT_TRUE(run.out.empty()) << run.out;
    EXPECT_FALSE(segment_exists(name));
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, WriterBadInput,
    ::testing::Values(
        BadInput{"missing_file", {"{dir}/missing.avi"}, "missing.avi"},
        BadInput{"not_video", {"{dir}/notes.txt"}, "notes.txt"},
        BadInput{"directory", {"{dir}"}, "is a directory"},
        BadInput{"no_camera_path", {"/dev/video99"}, "/dev/video99"},
        BadInput{"no_camera_index", {"--source-type", "camera", "99"}, "camera '99'"},
        BadInput{"no_images", {"{dir}/img_%04d.png"}, "img_%04d.png"},
        BadInput{"first_image_broken", {"{dir}/broken_%03d.png"}, "broken_000.png"},
        BadInput{"no_directory", {"{dir}/nowhere/img_%04d.png"}, "nowhere"},
        BadInput{"no_stream", {"http://127.0.0.1:1/none.mjpg"}, "127.0.0.1:1"},
        BadInput{"bad_name", {"--name", "a/b"}, "a/b"},
        BadInput{"slots_zero", {"--slots", "0"}, "--slots"},
        BadInput{"readers_too_many", {"--max-readers", "65"}, "--max-readers"},
        BadInput{"leases_too_many", {"--leases-per-reader", "17"}, "--leases-per-reader"},
        BadInput{"leases_zero", {"--leases-per-reader", "0"}, "--leases-per-reader"},
        BadInput{"odd_yuv", {"--format", "i420", "--resize", "65x48"}, "multiples of 2"},
        BadInput{"fps_negative", {"--fps", "-1"}, "--fps"},
        BadInput{"resize_bad", {"--resize", "0x10"}, "--resize"},
        BadInput{"format_bad", {"--format", "yuv"}, "--format"},
        BadInput{"mode_bad", {"--mode", "0999"}, "--mode"},
        BadInput{"max_frames_zero", {"--max-frames", "0"}, "--max-frames"},
        BadInput{"unknown_option", {"--bogus"}, "--bogus"},
        // Issue 15: the pattern is snprintf's format, so only one %d (and %%) passes.
        BadInput{"pattern_string", {"{dir}/img_%d_%s.png"}, "image sequence pattern"},
        BadInput{"pattern_store", {"{dir}/%d%n"}, "image sequence pattern"},
        BadInput{"pattern_only_string", {"--source-type", "sequence", "{dir}/%s"}, "%d"},
        BadInput{"pattern_hex", {"--source-type", "sequence", "{dir}/%x%x"}, "%d"},
        BadInput{"pattern_two_numbers", {"{dir}/%d_%d.png"}, "more than one"},
        BadInput{"pattern_long", {"{dir}/%ld.png", "--source-type", "sequence"}, "%d"},
        BadInput{"pattern_star", {"{dir}/%*d.png", "--source-type", "sequence"}, "%d"},
        BadInput{"pattern_huge_width", {"{dir}/img_%2147483647d.png"}, "wider than 10"},
        BadInput{"pattern_wide", {"{dir}/img_%011d.png"}, "wider than 10"},
        // Issue 15: every number option has a range; nan, inf, tiny and negative are out.
        BadInput{"fps_nan", {"--fps", "nan"}, "0.01..10000"},
        BadInput{"fps_inf", {"--fps", "inf"}, "--fps"},
        BadInput{"fps_tiny", {"--fps", "1e-300"}, "0.01..10000"},
        BadInput{"max_frames_negative", {"--max-frames", "-1"}, "--max-frames"},
        BadInput{"max_frames_fraction", {"--max-frames", "1.5"}, "--max-frames"},
        BadInput{"slots_huge", {"--slots", "1e10"}, "2..255"},
        BadInput{"camera_fps_nan", {"--camera-fps", "nan"}, "--camera-fps"},
        BadInput{"wait_readers_negative", {"--wait-readers", "-1"}, "--wait-readers"},
        // One line, without GStreamer-CRITICAL noise before it.
        BadInput{"pipeline_fails", {"videotestsrc ! nosuchelement ! appsink"}, "GStreamer"},
        BadInput{"pattern_too_narrow", {"--resize", "4x4", "--format", "gray8"}, "stamp"},
        // A reservation no /dev/shm can hold fails at creation, not later.
        BadInput{"no_space", {"--resize", "60000x60000", "--slots", "255"}, "/dev/shm"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST_F(WriterProgram, LiveWriterOnTheNameIsRefusedAndLeftRunning) {
    const std::string name = unique_name("wr-live");
    WriterProcess first({"--name", name, "--quiet"}, dir.path());
    FrameCollector collector(name);
    ASSERT_TRUE(collector.opened()) << collector.problem;
    collector.drain(20s, [&] { return !collector.frames.empty(); });
    ASSERT_FALSE(collector.frames.empty());

    auto second = run_writer({"--name", name}, 20s);
    EXPECT_EQ(second.exit_code, 2) << second.err;
    const auto lines = lines_of(second.err);
    ASSERT_EQ(lines.size(), 1u) << second.err;
    EXPECT_NE(lines[0].find("live writer"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("pid " + std::to_string(first.pid())), std::string::npos) << lines[0];

    // The first writer's segment is untouched: frames keep coming in order.
    const std::size_t before = collector.frames.size();
    collector.drain(20s, [&] { return collector.frames.size() >= before + 3; });
    ASSERT_GE(collector.frames.size(), before + 3);
    EXPECT_EQ(collector.frames.back().stamp.check, StampCheck::ok);
    first.kill(SIGTERM);
    EXPECT_EQ(first.wait(20s), 0);
    EXPECT_FALSE(segment_exists(name));
}

TEST_F(WriterProgram, ExistingSegmentIsUntouchedByAWriterWithBadInput) {
    // A kept, ended segment under the name; a writer with a missing file must
    // fail before it creates or takes over anything.
    const std::string name = unique_name("wr-untouched");
    SegmentCleanup cleanup{name};
    auto first =
        run_writer({"--name", name, "--keep", "--quiet", "--fps", "0", "--max-frames", "2"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    ASSERT_TRUE(segment_exists(name));
    std::ifstream before_file("/dev/shm/" + name, std::ios::binary);
    const std::string before{std::istreambuf_iterator<char>(before_file), {}};

    auto bad = run_writer({"--name", name, dir.file("missing.avi")});
    EXPECT_EQ(bad.exit_code, 2);
    std::ifstream after_file("/dev/shm/" + name, std::ios::binary);
    const std::string after{std::istreambuf_iterator<char>(after_file), {}};
    EXPECT_TRUE(before == after) << "the segment changed";
}

}  // namespace
}  // namespace framebus::test
