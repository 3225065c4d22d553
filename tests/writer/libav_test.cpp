// framebus-writer's libav source (issue 14), the real binary against a
// library Reader: every frame of H.264, MPEG-4 and MJPEG files, native
// planes exactly as ffmpeg decodes them, BGR as OpenCV decodes it, damaged
// and changing streams, a stream URL that drops, hardware fallback, and
// capture on demand. The clips are made once per build by make_clips.sh (a
// ctest fixture). Label: libav.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "framebus/inspect.hpp"
#include "framebus/opencv.hpp"
#include "framebus/reader.hpp"
#include "test_support.hpp"
#include "writer_process.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

std::string clip(const std::string& file) {
    return std::string(FRAMEBUS_CLIPS_DIR) + "/" + file;
}

std::uint64_t ffprobe_frames(const std::string& file) {
    std::ifstream in(clip(file) + ".frames");
    std::uint64_t count = 0;
    in >> count;
    return count;
}

struct Frame {
    std::uint64_t sequence = 0;
    std::int64_t capture_ns = 0;
    std::int64_t publish_ns = 0;
    FrameFormat format;
    std::vector<std::uint8_t> planes;  // every plane's rows, tightly, in order
    cv::Mat bgr;                       // the adapter's to_bgr of it
};

// Every frame in `next` order until the stream ends.
struct Collected {
    std::vector<Frame> frames;
    WaitStatus status = WaitStatus::timed_out;
    std::string problem;
};

Frame copy_of(const Lease& lease) {
    Frame frame;
    frame.sequence = lease.sequence();
    frame.capture_ns = lease.info().capture_ns;
    frame.publish_ns = lease.info().publish_ns;
    frame.format = lease.format();
    const FrameFormat& f = frame.format;
    for (std::uint32_t p = 0; p < f.plane_count; ++p)
        for (std::uint64_t y = 0; y < f.plane_rows(p); ++y) {
            const auto* row =
                reinterpret_cast<const std::uint8_t*>(lease.plane(p)) + y * f.planes[p].stride;
            frame.planes.insert(frame.planes.end(), row, row + f.plane_row_bytes(p));
        }
    to_bgr(lease, frame.bgr);
    return frame;
}

Collected collect(const std::string& name, std::chrono::seconds timeout = 30s) {
    Collected out;
    ReaderOptions options;
    options.wait_for_segment = 20s;
    options.follow = true;  // through replacements by bigger frames
    auto reader = Reader::open(name, options);
    if (!reader) {
        out.problem = reader.error().message;
        return out;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto lease = reader->next();
        if (lease) {
            out.frames.push_back(copy_of(*lease));
            continue;
        }
        const auto remaining = deadline - std::chrono::steady_clock::now();
        if (remaining <= 0s) return out;
        out.status = reader->wait(remaining);
        if (out.status == WaitStatus::frame || out.status == WaitStatus::followed) continue;
        return out;
    }
}

class Libav : public ::testing::Test {
  protected:
    // Runs the writer on `args` (plus a name, unpaced, in-order delivery:
    // it waits for the reader and has a slot for every frame) and collects.
    Collected run(std::vector<std::string> args, std::string* err = nullptr) {
        const std::string name = unique_name("libav");
        args.insert(args.begin(), {"--name", name, "--fps", "0", "--wait-readers", "1", "--slots",
                                   "64", "--keep"});
        WriterProcess writer(args, dir.path());
        Collected got = collect(name);
        EXPECT_EQ(writer.wait(30s), 0) << writer.err();
        if (err != nullptr) *err = writer.err();
        remove_segment_file(name);
        return got;
    }
    TempDir dir;
};

// ---- every frame, every codec ----------------------------------------------------

class EveryCodec : public Libav, public ::testing::WithParamInterface<const char*> {};

TEST_P(EveryCodec, EveryFrameArrivesAsNativeI420InTheNumberFfprobeCounts) {
    std::string err;
    const Collected got = run({"--decoder", "libav", clip(GetParam())}, &err);
    EXPECT_EQ(got.status, WaitStatus::end_of_stream) << got.problem;
    ASSERT_EQ(got.frames.size(), ffprobe_frames(GetParam())) << err;
    for (std::size_t i = 0; i < got.frames.size(); ++i) {
        EXPECT_EQ(got.frames[i].sequence, i + 1);
        EXPECT_EQ(got.frames[i].format, FrameFormat::packed(320, 240, PixelFormat::i420));
    }
    EXPECT_EQ(summary_value(err, "decode_errors"), 0u) << err;
    EXPECT_EQ(summary_value(err, "zero_copy_misses"), 0u) << err;
}

TEST_P(EveryCodec, Bgr24IsWithinAPsnrToleranceOfVideoCapture) {
    const Collected got = run({"--decoder", "libav", "--format", "bgr24", clip(GetParam())});
    cv::VideoCapture capture(clip(GetParam()), cv::CAP_FFMPEG);
    ASSERT_TRUE(capture.isOpened());
    std::size_t compared = 0;
    cv::Mat expected;
    for (const Frame& frame : got.frames) {
        ASSERT_TRUE(capture.read(expected)) << "frame " << frame.sequence;
        ASSERT_EQ(frame.format, FrameFormat::packed(320, 240, PixelFormat::bgr24));
        const cv::Mat published(240, 320, CV_8UC3, const_cast<std::uint8_t*>(frame.planes.data()));
        EXPECT_GE(cv::PSNR(published, expected), 40.0) << "frame " << frame.sequence;
        ++compared;
    }
    EXPECT_EQ(compared, ffprobe_frames(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Codecs, EveryCodec,
                         ::testing::Values("h264.mp4", "mpeg4.avi", "mjpeg.avi"),
                         [](const auto& info) {
                             std::string label = info.param;
                             return label.substr(0, label.find('.'));
                         });

TEST_F(Libav, NativeI420IsExactlyWhatFfmpegDecodes) {
    const Collected got = run({"--decoder", "libav", "--format", "native", clip("h264.mp4")});
    std::ifstream raw(clip("h264.yuv"), std::ios::binary);
    const std::vector<char> reference((std::istreambuf_iterator<char>(raw)),
                                      std::istreambuf_iterator<char>());
    const std::size_t frame_bytes = 320 * 240 * 3 / 2;
    ASSERT_EQ(reference.size(), frame_bytes * ffprobe_frames("h264.mp4"));
    ASSERT_EQ(got.frames.size(), reference.size() / frame_bytes);
    for (std::size_t i = 0; i < got.frames.size(); ++i) {
        ASSERT_EQ(got.frames[i].planes.size(), frame_bytes);
        EXPECT_EQ(std::memcmp(got.frames[i].planes.data(), reference.data() + i * frame_bytes,
                              frame_bytes),
                  0)
            << "frame " << i;
    }
}

TEST_F(Libav, ResizeAndEveryFormatGoThroughSwsScaleIntoTheSlot) {
    for (const PixelFormatInfo& info : pixel_formats()) {
        const Collected got = run({"--decoder", "libav", "--format", info.name, "--resize",
                                   "160x120", "--max-frames", "3", clip("h264.mp4")});
        ASSERT_EQ(got.frames.size(), 3u) << info.name;
        EXPECT_EQ(got.frames[0].format, FrameFormat::packed(160, 120, info.format)) << info.name;
        EXPECT_EQ(got.frames[0].bgr.size(), cv::Size(160, 120)) << info.name;
    }
}

// ---- damaged and changing input -----------------------------------------------------

TEST_F(Libav, AResolutionChangeMidStreamPublishesEveryFrameInItsOwnSize) {
    std::string err;
    const Collected got = run({"--decoder", "libav", clip("size_change.ts")}, &err);
    ASSERT_EQ(got.frames.size(), 24u) << err;
    for (std::size_t i = 0; i < got.frames.size(); ++i)
        EXPECT_EQ(got.frames[i].format, i < 12 ? FrameFormat::packed(320, 240, PixelFormat::i420)
                                               : FrameFormat::packed(160, 120, PixelFormat::i420))
            << "frame " << i;
    EXPECT_EQ(summary_value(err, "frames"), 24u) << err;
}

TEST_F(Libav, ATruncatedFileIsDecodedAsFarAsItGoesAndTheLossCounted) {
    std::string err;
    const Collected got = run({"--decoder", "libav", clip("truncated.avi")}, &err);
    EXPECT_EQ(got.status, WaitStatus::end_of_stream);
    EXPECT_GT(got.frames.size(), 10u) << err;
    EXPECT_LT(got.frames.size(), 30u) << err;
    const auto errors = summary_value(err, "decode_errors");
    ASSERT_TRUE(errors) << err;
    EXPECT_EQ(*errors + got.frames.size(), 30u) << err;  // every announced frame accounted for
}

TEST_F(Libav, AStreamUrlThatDropsIsReconnectedAndFramesResume) {
    FileHttpServer server(clip("mpeg4.avi"));  // each connection ends after the file
    std::string err;
    const Collected got =
        run({"--decoder", "libav", "--max-frames", "45", server.url("/clip.avi")}, &err);
    EXPECT_EQ(got.frames.size(), 45u) << err;
    EXPECT_GE(summary_value(err, "reconnects").value_or(0), 1u) << err;
    EXPECT_GE(server.connections(), 2);
}

// A live source's frames are stamped with their packet's receive time: never
// after the frame was published, never earlier than the frame before.
TEST_F(Libav, StreamFramesCarryAMonotonicCaptureTimeNoLaterThanTheirPublishing) {
    FileHttpServer server(clip("mpeg4.avi"));
    std::string err;
    const Collected got =
        run({"--decoder", "libav", "--max-frames", "20", server.url("/clip.avi")}, &err);
    ASSERT_EQ(got.frames.size(), 20u) << err;
    std::int64_t previous = 0;
    for (const Frame& frame : got.frames) {
        EXPECT_GT(frame.capture_ns, 0) << frame.sequence;
        EXPECT_LE(frame.capture_ns, frame.publish_ns) << frame.sequence;
        EXPECT_GE(frame.capture_ns, previous) << frame.sequence;
        previous = frame.capture_ns;
    }
}

// ---- hardware decoding, choices -------------------------------------------------------

TEST_F(Libav, HwaccelWithoutADeviceSaysSoOnceAndDecodesInSoftware) {
    if (std::filesystem::exists("/dev/dri")) GTEST_SKIP() << "a DRI device exists here";
    std::string err;
    const Collected got = run({"--hwaccel", "vaapi", clip("h264.mp4")}, &err);
    EXPECT_EQ(got.frames.size(), 30u);
    std::size_t notes = 0;
    for (const auto& line : lines_of(err))
        notes += line.find("hardware decoding (vaapi) is not available") != std::string::npos &&
                 line.find("decoding in software") != std::string::npos;
    EXPECT_EQ(notes, 1u) << err;
}

TEST_F(Libav, OpencvDecoderStillPublishesBgr) {
    const Collected got = run({"--decoder", "opencv", "--max-frames", "2", clip("h264.mp4")});
    ASSERT_EQ(got.frames.size(), 2u);
    EXPECT_EQ(got.frames[0].format, FrameFormat::packed(320, 240, PixelFormat::bgr24));
}

TEST_F(Libav, LibavForAGstreamerPipelineIsAUsageError) {
    auto result = run_writer({"--decoder", "libav", "videotestsrc ! appsink"});
    EXPECT_EQ(result.exit_code, 2);
    ASSERT_EQ(lines_of(result.err).size(), 1u) << result.err;
    EXPECT_NE(result.err.find("--decoder libav"), std::string::npos) << result.err;
}

// ---- capture on demand -----------------------------------------------------------------

// Waits until `framebus ls` would show the segment idle (or not); looks at
// least once. `latest` receives the newest sequence seen.
bool wait_for_idle(const std::string& name, bool idle, std::chrono::milliseconds timeout,
                   std::uint64_t* latest = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto view = inspect(name);
        if (view && (health_of(*view, now_ns()) == SegmentHealth::idle) == idle) {
            if (latest != nullptr) *latest = view->latest_sequence;
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
}

// A reader attaching wakes the idle writer, which reopens its source: the
// first frame newer than `after` (the ring still holds the frames published
// before the writer went idle).
std::optional<Lease> new_frame_of(Reader& reader, std::uint64_t after) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto lease = reader.latest(); lease && lease->sequence() > after)
            return std::move(*lease);
        (void)reader.wait(100ms);
    }
    return std::nullopt;
}

Reader attach(const std::string& name) {
    ReaderOptions options;
    options.wait_for_segment = 5s;
    auto reader = Reader::open(name, options);
    EXPECT_TRUE(reader) << reader.error().message;
    return std::move(*reader);
}

TEST_F(Libav, OnDemandTestPatternGoesIdleWithoutReadersAndResumesForOne) {
    const std::string name = unique_name("libav-demand");
    WriterProcess writer(
        {"--name", name, "--on-demand", "--idle-after", "0.2", "--resize", "64x48"}, dir.path());
    std::uint64_t before = 0;
    ASSERT_TRUE(wait_for_idle(name, true, 10s, &before)) << writer.err();
    Reader reader = attach(name);
    EXPECT_TRUE(new_frame_of(reader, before).has_value()) << writer.err();
    EXPECT_FALSE(wait_for_idle(name, true, 0ms));  // reading: not idle
    writer.kill(SIGTERM);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    EXPECT_EQ(summary_value(writer.err(), "reopened"), 1u) << writer.err();
}

TEST_F(Libav, OnDemandStreamIsDisconnectedWhileUnreadAndReconnectedForAReader) {
    FileHttpServer server(clip("mjpeg.avi"));
    const std::string name = unique_name("libav-demand-url");
    // Paced: the 30 frames take over a second, so the stream is still open
    // when the writer decides nobody reads.
    WriterProcess writer({"--name", name, "--on-demand", "--idle-after", "0.2", "--fps", "25",
                          server.url("/clip.avi")},
                         dir.path());
    std::uint64_t before = 0;
    ASSERT_TRUE(wait_for_idle(name, true, 10s, &before)) << writer.err();
    EXPECT_EQ(server.connections(), 1);
    // While idle nothing reconnects (a stalled stream would retry in 500 ms).
    std::this_thread::sleep_for(700ms);
    EXPECT_EQ(server.connections(), 1);
    EXPECT_TRUE(wait_for_idle(name, true, 0ms));
    Reader reader = attach(name);
    EXPECT_TRUE(new_frame_of(reader, before).has_value()) << writer.err();
    EXPECT_EQ(server.connections(), 2);
    writer.kill(SIGTERM);
    ASSERT_EQ(writer.wait(20s), 0) << writer.err();
    EXPECT_EQ(summary_value(writer.err(), "reopened"), 1u) << writer.err();
}

TEST_F(Libav, HelpListsTheDecodingOptions) {
    auto help = run_writer({"--help"});
    EXPECT_EQ(help.exit_code, 0);
    for (const char* option : {"--decoder", "--hwaccel", "--decoder-threads", "--thread-type",
                               "--on-demand", "--idle-after", "native"})
        EXPECT_NE(help.out.find(option), std::string::npos) << option;
}

TEST_F(Libav, OnDemandOnAFileIsAUsageError) {
    auto result = run_writer({"--on-demand", clip("h264.mp4")});
    EXPECT_EQ(result.exit_code, 2);
    ASSERT_EQ(lines_of(result.err).size(), 1u) << result.err;
    EXPECT_NE(result.err.find("--on-demand"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace framebus::test
