// framebus-reader, run as a real process against a real writer process
// (issue 4). Label: reader.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "framebus/inspect.hpp"
#include "framebus/layout.hpp"
#include "framebus/name.hpp"
#include "framebus/stamp.hpp"
#include "programs.hpp"
#include "test_pattern.hpp"
#include "test_support.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

constexpr auto kExitTimeout = 30s;

// The frames a reader has taken from the segment now under `name` (its entry
// in the reader table), or nullopt if it has no entry there.
std::optional<std::uint64_t> frames_of_reader(const std::string& name, pid_t reader) {
    auto view = inspect(name);
    if (!view) return std::nullopt;
    for (const ReaderView& r : view->readers)
        if (r.pid == static_cast<std::uint32_t>(reader)) return r.frames;
    return std::nullopt;
}

// Waits until the reader has taken at least `frames` frames from the
// segment under `name` (the reader table is the signal).
bool wait_for_reader_frames(const std::string& name, pid_t reader, std::uint64_t frames,
                            std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (frames_of_reader(name, reader).value_or(0) >= frames) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

std::string shm_path(const std::string& name) {
    return segment_path(name);
}

// Bad input must give exactly one error line, no summary, exit code 2.
void expect_one_error_line(Program& reader, std::string_view says) {
    ASSERT_EQ(reader.wait(kExitTimeout), 2) << reader.err();
    const auto lines = lines_of(reader.err());
    ASSERT_EQ(lines.size(), 1u) << reader.err();
    EXPECT_EQ(lines[0].rfind("framebus-reader: error: ", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find(says), std::string::npos) << lines[0];
    EXPECT_EQ(reader.out(), "");
}

class ReaderTest : public ::testing::Test {
  protected:
    TempDir dir;
};

// ---- many readers, one writer ------------------------------------------------

TEST_F(ReaderTest, FourVerifyingReadersOnOneWriterAllSeeIntactFrames) {
    const std::string name = unique_name("four");
    Program writer(dir.path(), {writer_bin(), "--name", name, "--fps", "120", "--quiet"});
    std::vector<std::unique_ptr<Program>> readers;
    for (int i = 0; i < 4; ++i)
        readers.push_back(std::make_unique<Program>(
            dir.path(), std::vector<std::string>{reader_bin(), "--headless", "--verify", "--wait",
                                                 "10", "--max-frames", "60", name}));
    for (auto& reader : readers) {
        ASSERT_EQ(reader->wait(kExitTimeout), 0) << reader->err();
        auto summary = parse_summary(reader->out());
        ASSERT_TRUE(summary) << reader->out();
        EXPECT_EQ(summary->frames, 60u);
        EXPECT_EQ(summary->verified, 60u);
        EXPECT_EQ(summary->mismatches, 0u) << reader->err();
        EXPECT_GT(summary->fps, 0.0);
        EXPECT_LE(summary->latency_p50_us, summary->latency_p99_us);
    }
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0) << writer.err();
    EXPECT_FALSE(segment_exists(name));
}

TEST_F(ReaderTest, HeadlessReaderPrintsStatsLinesAndExitsAtEndOfStream) {
    const std::string name = unique_name("eos");
    Program reader(dir.path(), {reader_bin(), "--headless", "--verify", "--wait", "10", name});
    Program writer(dir.path(),
                   {writer_bin(), "--name", name, "--fps", "60", "--max-frames", "150", "--quiet"});
    ASSERT_EQ(writer.wait(kExitTimeout), 0) << writer.err();
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_GT(summary->frames, 0u);
    EXPECT_EQ(summary->mismatches, 0u);
    EXPECT_EQ(summary->verified, summary->frames);
    // 150 frames at 60 fps take 2.5 s: at least one stats line a second.
    EXPECT_NE(reader.err().find(" fps="), std::string::npos) << reader.err();
    EXPECT_NE(reader.err().find("latency_p99_us="), std::string::npos) << reader.err();
    EXPECT_NE(reader.err().find("end of stream"), std::string::npos) << reader.err();
}

// ---- --snapshot --------------------------------------------------------------

TEST_F(ReaderTest, SnapshotSavesTheFramePixelForPixel) {
    const std::string name = unique_name("snap");
    Program writer(dir.path(), {test_writer_bin(), "--name", name, "--pattern", "blocks", "--size",
                                "320x240", "--fps", "30"});
    const auto png = dir.path() / "snap.png";
    Program reader(dir.path(),
                   {reader_bin(), "--snapshot", png.string(), "--wait", "10", "--verify", name});
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    ASSERT_TRUE(parse_summary(reader.out())) << reader.out();

    const cv::Mat image = cv::imread(png.string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(image.type(), CV_8UC3);
    ASSERT_EQ(image.cols, 320);
    ASSERT_EQ(image.rows, 240);
    // The stamp covers every byte: a PNG that checks out is the published frame exactly.
    const auto format = FrameFormat::packed(320, 240, PixelFormat::bgr24);
    const StampResult stamp = check_stamp(reinterpret_cast<const std::byte*>(image.data), format);
    EXPECT_EQ(stamp.check, StampCheck::ok);
    EXPECT_GE(stamp.number, 1u);
    // And the picture is the one drawn (the stamp's 8 pixels of row 0 aside).
    std::size_t wrong = 0;
    for (int y = 0; y < image.rows; ++y)
        for (int x = (y == 0 ? 8 : 0); x < image.cols; ++x) {
            const Rgb c = block_colour(x, y, 320, 240);
            const auto& p = image.at<cv::Vec3b>(y, x);
            wrong += p != cv::Vec3b(c.b, c.g, c.r);
        }
    EXPECT_EQ(wrong, 0u);
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

TEST_F(ReaderTest, SnapshotOfAnRgbFrameSavesTheRightColours) {
    const std::string name = unique_name("snaprgb");
    Program writer(dir.path(), {test_writer_bin(), "--name", name, "--pattern", "blocks", "--size",
                                "320x240", "--format", "rgb24", "--fps", "30"});
    const auto png = dir.path() / "snap.png";
    Program reader(dir.path(), {reader_bin(), "--snapshot", png.string(), "--wait", "10", name});
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    const cv::Mat image = cv::imread(png.string(), cv::IMREAD_COLOR);  // BGR
    ASSERT_EQ(image.cols, 320);
    for (const auto& [x, y] : {std::pair{40, 40}, {280, 40}, {40, 200}, {280, 200}}) {
        const Rgb c = block_colour(x, y, 320, 240);
        EXPECT_EQ(image.at<cv::Vec3b>(y, x), cv::Vec3b(c.b, c.g, c.r)) << x << "," << y;
    }
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

// Every pixel format of the table, drawn as four solid blocks by the test
// writer: the snapshot (the adapter's to_bgr, as the window uses) shows the
// blocks' colours within a small tolerance (YUV rounding, gray's lost colour).
class SnapshotOfEveryFormat : public ::testing::TestWithParam<PixelFormat> {
  protected:
    TempDir dir;
};

TEST_P(SnapshotOfEveryFormat, ShowsTheKnownColoursWithinATolerance) {
    const PixelFormat format = GetParam();
    const std::string name = unique_name(std::string("snapfmt-") + to_string(format));
    Program writer(dir.path(), {test_writer_bin(), "--name", name, "--pattern", "blocks", "--size",
                                "320x240", "--format", to_string(format), "--fps", "30"});
    const auto png = dir.path() / "snap.png";
    Program reader(dir.path(),
                   {reader_bin(), "--snapshot", png.string(), "--wait", "10", "--verify", name});
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_EQ(summary->verified, 1u);  // the stamp checks out over every plane
    const cv::Mat image = cv::imread(png.string(), cv::IMREAD_ANYDEPTH | cv::IMREAD_COLOR);
    ASSERT_EQ(image.cols, 320);
    ASSERT_EQ(image.rows, 240);
    const bool gray = format == PixelFormat::gray8 || format == PixelFormat::gray16;
    int worst = 0;
    // Rows 2 and down: the stamp in row 0 also shifts row 0-1's shared chroma.
    for (int y = 2; y < image.rows; ++y)
        for (int x = 0; x < image.cols; ++x) {
            const Rgb c = block_colour(x, y, 320, 240);
            const int level = (c.r * 299 + c.g * 587 + c.b * 114) / 1000;
            const int expected[3] = {gray ? level : c.b, gray ? level : c.g, gray ? level : c.r};
            double got[3];
            if (image.depth() == CV_16U) {
                const auto& p = image.at<cv::Vec3w>(y, x);
                for (int k = 0; k < 3; ++k) got[k] = p[k] / 257.0;
            } else {
                const auto& p = image.at<cv::Vec3b>(y, x);
                for (int k = 0; k < 3; ++k) got[k] = p[k];
            }
            for (int k = 0; k < 3; ++k)
                worst = std::max(worst, static_cast<int>(std::abs(got[k] - expected[k]) + 0.5));
        }
    EXPECT_LE(worst, 4) << to_string(format);
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, SnapshotOfEveryFormat, ::testing::ValuesIn([] {
                             std::vector<PixelFormat> formats;
                             for (const PixelFormatInfo& info : pixel_formats())
                                 formats.push_back(info.format);
                             return formats;
                         }()),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST_F(ReaderTest, SnapshotOfTheWritersTestPatternKeepsItsStamp) {
    const std::string name = unique_name("snappat");
    Program writer(dir.path(), {writer_bin(), "--name", name, "--quiet"});
    const auto png = dir.path() / "pattern.png";
    Program reader(dir.path(),
                   {reader_bin(), "--snapshot", png.string(), "--wait", "10", "--verify", name});
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_EQ(summary->verified, 1u);
    const cv::Mat image = cv::imread(png.string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(image.cols, 640);
    ASSERT_EQ(image.rows, 480);
    ASSERT_EQ(image.type(), CV_8UC3);
    const StampResult stamp = check_stamp(reinterpret_cast<const std::byte*>(image.data),
                                          FrameFormat::packed(640, 480, PixelFormat::bgr24));
    EXPECT_EQ(stamp.check, StampCheck::ok);
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

// ---- --every -----------------------------------------------------------------

TEST_F(ReaderTest, EveryModeOnASlowReaderCountsTheFramesItMissed) {
    const std::string name = unique_name("every");
    Program writer(dir.path(), {writer_bin(), "--name", name, "--fps", "200", "--quiet"});
    // 25 ms per frame: 40 frames a second against 200, with 10 slots of ring.
    Program reader(dir.path(), {reader_bin(), "--headless", "--every", "--verify", "--hold-ms",
                                "25", "--max-frames", "30", "--wait", "10", name});
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_EQ(summary->frames, 30u);
    EXPECT_GT(summary->skipped, 0u);
    EXPECT_EQ(summary->mismatches, 0u);
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

TEST_F(ReaderTest, EveryModeReadsFramesInOrderWithoutGapsWhenItKeepsUp) {
    const std::string name = unique_name("order");
    // The writer waits for nothing; the reader, which keeps up easily at 30
    // fps, must get consecutive frames.
    Program writer(dir.path(),
                   {test_writer_bin(), "--name", name, "--fps", "30", "--size", "64x48"});
    Program reader(dir.path(), {reader_bin(), "--headless", "--every", "--verify", "--max-frames",
                                "20", "--wait", "10", name});
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_EQ(summary->frames, 20u);
    EXPECT_EQ(summary->skipped, 0u);
    EXPECT_EQ(summary->verified, 20u);
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

TEST_F(ReaderTest, AdaptiveWaitReadsEveryFrameInOrder) {
    const std::string name = unique_name("spin");
    // Frames every 5 ms against a 20 ms spin: most are taken while spinning.
    Program writer(dir.path(),
                   {test_writer_bin(), "--name", name, "--fps", "200", "--size", "64x48"});
    Program reader(dir.path(), {reader_bin(), "--headless", "--every", "--verify", "--spin-us",
                                "20000", "--max-frames", "40", "--wait", "10", name});
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_EQ(summary->frames, 40u);
    EXPECT_EQ(summary->skipped, 0u);
    EXPECT_EQ(summary->verified, 40u);
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

// ---- surviving the writer ----------------------------------------------------

TEST_F(ReaderTest, ReaderContinuesWithANewWriterAfterTheWriterWasKilled) {
    const std::string name = unique_name("restart");
    auto first = std::make_unique<Program>(
        dir.path(),
        std::vector<std::string>{writer_bin(), "--name", name, "--fps", "100", "--quiet"});
    Program reader(dir.path(), {reader_bin(), "--headless", "--verify", "--wait", "10",
                                "--duration", "40", name});
    ASSERT_TRUE(wait_for_reader_frames(name, reader.pid(), 5, 20s)) << reader.err();

    first->kill(SIGKILL);
    ASSERT_EQ(first->wait(kExitTimeout), -SIGKILL);
    ASSERT_TRUE(reader.wait_for_err("is gone", 10s)) << reader.err();
    // The dead writer's segment is still there, with our final count in it.
    const auto frames_before = frames_of_reader(name, reader.pid());
    ASSERT_TRUE(frames_before);

    Program second(dir.path(), {writer_bin(), "--name", name, "--fps", "100", "--max-frames", "100",
                                "--quiet"});
    ASSERT_EQ(second.wait(kExitTimeout), 0) << second.err();
    // The second writer's end of stream ends the reader.
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_GE(summary->writer_restarts, 1u);
    EXPECT_GT(summary->frames, *frames_before) << "no frame after the restart";
    EXPECT_EQ(summary->mismatches, 0u) << reader.err();
    EXPECT_NE(reader.err().find("following the new writer"), std::string::npos);
}

TEST_F(ReaderTest, ReaderFollowsANewWriterWithAnotherFrameSizeAfterEndOfStream) {
    const std::string name = unique_name("shape");
    Program reader(dir.path(), {reader_bin(), "--headless", "--verify", "--no-exit-on-eos",
                                "--wait", "10", "--duration", "40", name});
    Program first(dir.path(), {writer_bin(), "--name", name, "--fps", "100", "--quiet"});
    ASSERT_TRUE(wait_for_reader_frames(name, reader.pid(), 5, 20s)) << reader.err();
    first.kill(SIGTERM);  // a clean end: end of stream, name unlinked
    ASSERT_EQ(first.wait(kExitTimeout), 0);
    ASSERT_TRUE(reader.wait_for_err("end of stream", 10s)) << reader.err();

    Program second(dir.path(), {writer_bin(), "--name", name, "--fps", "100", "--resize", "320x240",
                                "--format", "rgb24", "--quiet"});
    // The stats line shows the new shape once frames of it arrived.
    ASSERT_TRUE(reader.wait_for_err("320x240 rgb24", 20s)) << reader.err();
    reader.kill(SIGTERM);
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_EQ(summary->writer_restarts, 1u);
    EXPECT_EQ(summary->mismatches, 0u) << reader.err();
    EXPECT_EQ(summary->verified, summary->frames);
    second.kill(SIGTERM);
    EXPECT_EQ(second.wait(kExitTimeout), 0);
}

TEST_F(ReaderTest, ReaderFollowsTheSegmentWhenTheWriterReplacesItForLargerFrames) {
    const std::string name = unique_name("grow");
    Program reader(dir.path(), {reader_bin(), "--headless", "--verify", "--every", "--wait", "10",
                                "--duration", "40", name});
    Program writer(dir.path(), {test_writer_bin(), "--name", name, "--fps", "60", "--size",
                                "320x240", "--second-size", "640x480", "--switch-after", "60"});
    ASSERT_TRUE(reader.wait_for_err("was replaced", 20s)) << reader.err();
    ASSERT_TRUE(reader.wait_for_err("640x480 bgr24", 20s)) << reader.err();
    reader.kill(SIGTERM);
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    auto summary = parse_summary(reader.out());
    ASSERT_TRUE(summary) << reader.out();
    EXPECT_EQ(summary->writer_restarts, 0u) << "the same writer, not a restart";
    EXPECT_GT(summary->frames, 0u);
    EXPECT_EQ(summary->mismatches, 0u) << reader.err();
    EXPECT_EQ(summary->verified, summary->frames);
    writer.kill(SIGTERM);
    EXPECT_EQ(writer.wait(kExitTimeout), 0);
}

// ---- bad input: one line, exit 2, segment untouched -----------------------------

TEST_F(ReaderTest, NoWriterUnderTheNameFailsAtOnce) {
    const std::string name = unique_name("none");
    Program reader(dir.path(), {reader_bin(), "--headless", name});
    expect_one_error_line(reader, "no segment named '" + name + "'");
}

TEST_F(ReaderTest, WaitGivesUpWhenNoWriterComes) {
    const std::string name = unique_name("nowait");
    Program reader(dir.path(), {reader_bin(), "--headless", "--wait", "0.3", name});
    expect_one_error_line(reader, "within 0.3 s");
}

TEST_F(ReaderTest, AnObjectThatIsNotASegmentIsRefusedAndLeftAlone) {
    const std::string name = unique_name("garbage");
    const std::string bytes(8192, 'x');
    write_file(shm_path(name), bytes);
    Program reader(dir.path(), {reader_bin(), "--headless", name});
    expect_one_error_line(reader, "not a framebus segment");
    EXPECT_EQ(read_text_file(shm_path(name)), bytes);
    remove_segment_file(name);
}

TEST_F(ReaderTest, GarbageWithTheMagicIsRefusedAndLeftAlone) {
    const std::string name = unique_name("magic");
    std::string bytes(8192, '\x5a');
    std::memcpy(bytes.data(), &layout::kMagic, sizeof layout::kMagic);
    write_file(shm_path(name), bytes);
    Program reader(dir.path(), {reader_bin(), "--headless", name});
    expect_one_error_line(reader, "'" + name + "'");  // the version field is garbage too
    EXPECT_EQ(read_text_file(shm_path(name)), bytes);
    remove_segment_file(name);
}

TEST_F(ReaderTest, GarbageWithTheMagicAndVersionIsCorruptAndLeftAlone) {
    const std::string name = unique_name("version");
    std::string bytes(8192, '\x5a');
    std::memcpy(bytes.data(), &layout::kMagic, sizeof layout::kMagic);
    std::memcpy(bytes.data() + 8, &layout::kLayoutVersion, sizeof layout::kLayoutVersion);
    write_file(shm_path(name), bytes);
    Program reader(dir.path(), {reader_bin(), "--headless", name});
    expect_one_error_line(reader, "corrupt");
    EXPECT_EQ(read_text_file(shm_path(name)), bytes);
    remove_segment_file(name);
}

TEST_F(ReaderTest, ATruncatedCopyOfARealSegmentIsCorruptAndLeftAlone) {
    const std::string name = unique_name("kept");
    Program writer(dir.path(), {writer_bin(), "--name", name, "--fps", "100", "--max-frames", "3",
                                "--keep", "--quiet"});
    ASSERT_EQ(writer.wait(kExitTimeout), 0) << writer.err();
    ASSERT_TRUE(segment_exists(name));
    const std::string whole = read_text_file(shm_path(name));
    ASSERT_GT(whole.size(), 8192u);

    const std::string cut = unique_name("cut");
    const std::string truncated = whole.substr(0, whole.size() / 2);
    write_file(shm_path(cut), truncated);
    Program reader(dir.path(), {reader_bin(), "--headless", cut});
    expect_one_error_line(reader, "corrupt");
    EXPECT_EQ(read_text_file(shm_path(cut)), truncated);
    remove_segment_file(cut);

    // The kept original is fine: its last frame can still be saved.
    const auto png = dir.path() / "kept.png";
    Program snapshot(dir.path(), {reader_bin(), "--snapshot", png.string(), "--verify", name});
    EXPECT_EQ(snapshot.wait(kExitTimeout), 0) << snapshot.err();
    remove_segment_file(name);
}

TEST_F(ReaderTest, ASegmentOfAnotherUserIsRefusedAndLeftAlone) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the reader as another user";
    const std::string name = unique_name("owner");
    Program writer(dir.path(), {writer_bin(), "--name", name, "--fps", "100", "--max-frames", "3",
                                "--keep", "--quiet"});
    ASSERT_EQ(writer.wait(kExitTimeout), 0) << writer.err();
    struct stat st {};
    ASSERT_EQ(::stat(shm_path(name).c_str(), &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600u);
    const std::string before = read_text_file(shm_path(name));

    // The output files must be writable by the child after it drops root.
    ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
    ProgramOptions as_nobody;
    as_nobody.run_as = 65534;
    Program reader(dir.path(), {reader_bin(), "--headless", name}, as_nobody);
    expect_one_error_line(reader, "ermission");
    EXPECT_EQ(read_text_file(shm_path(name)), before);
    remove_segment_file(name);
}

TEST_F(ReaderTest, UsageErrorsAreOneLineAndExitCodeTwo) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--no-such-option"},
          {"bad/name"},
          {"--snapshot", (dir.path() / "x.notanimage").string(), "some-name"},
          {"--name", "one", "two"},
          {"--wait", "-1", "x"},
          {"--spin-us", "-5", "x"},
          {"--spin-us", "2000000", "x"},
          // Issue 15: every number option has a range; nan, overflow and -1 are out.
          {"--duration", "nan", "x"},
          {"--duration", "1e10", "x"},
          {"--wait", "nan", "x"},
          {"--max-frames", "-1", "x"},
          {"--max-frames", "1e3", "x"},
          {"--hold-ms", "-1", "x"}}) {
        std::vector<std::string> argv{reader_bin(), "--headless"};
        argv.insert(argv.end(), args.begin(), args.end());
        Program reader(dir.path(), argv);
        SCOPED_TRACE(args[0]);
        expect_one_error_line(reader, "");
    }
}

TEST_F(ReaderTest, ADisplayThatCannotBeReachedIsAnErrorNotACrash) {
    // Qt's highgui aborts the process without a display; the reader looks first.
    if (std::filesystem::exists("/tmp/.X11-unix/X999")) GTEST_SKIP() << "display :999 exists";
    ProgramOptions no_server;
    no_server.env = {"DISPLAY=:999"};
    Program reader(dir.path(), {reader_bin(), "some-name"}, no_server);
    expect_one_error_line(reader, "cannot connect to display ':999'");
}

TEST_F(ReaderTest, AnUnreachableRemoteDisplayIsAnErrorNotACrash) {
    // A TCP display (ssh's X forwarding) on a port where nothing listens:
    // Qt's xcb would abort (exit 134); Xlib is asked first.
    ProgramOptions remote;
    remote.env = {"DISPLAY=127.0.0.1:57.0"};
    Program reader(dir.path(), {reader_bin(), "some-name"}, remote);
    expect_one_error_line(reader, "cannot connect to display '127.0.0.1:57.0'");
}

TEST_F(ReaderTest, AStalledWriterIsReportedOnceAndItsResumptionToo) {
    const std::string name = unique_name("stall");
    Program writer(dir.path(), {writer_bin(), "--name", name, "--fps", "50", "--quiet"});
    Program reader(dir.path(),
                   {reader_bin(), "--headless", "--wait", "10", "--duration", "60", name});
    ASSERT_TRUE(wait_for_reader_frames(name, reader.pid(), 5, 20s)) << reader.err();
    // SIGSTOP stops the writer's upkeep too: no frame, no heartbeat.
    writer.kill(SIGSTOP);
    EXPECT_TRUE(reader.wait_for_err("stalled:", 10s)) << reader.err();
    writer.kill(SIGCONT);
    EXPECT_TRUE(reader.wait_for_err("resumed", 10s)) << reader.err();
    writer.kill(SIGTERM);
    ASSERT_EQ(writer.wait(kExitTimeout), 0) << writer.err();
    ASSERT_EQ(reader.wait(kExitTimeout), 0) << reader.err();
    // Said once each, however many seconds it lasted.
    const std::string err = reader.err();
    auto count = [&](std::string_view what) {
        std::size_t n = 0;
        for (std::size_t at = err.find(what); at != std::string::npos; at = err.find(what, at + 1))
            ++n;
        return n;
    };
    EXPECT_EQ(count(") stalled:"), 1u) << err;
    EXPECT_EQ(count(") resumed"), 1u) << err;
}

TEST_F(ReaderTest, HelpListsTheOptionsAndExitsZero) {
    Program reader(dir.path(), {reader_bin(), "--help"});
    ASSERT_EQ(reader.wait(kExitTimeout), 0);
    for (const char* option : {"--headless", "--snapshot", "--every", "--wait", "--max-frames",
                               "--duration", "--exit-on-eos", "--verify", "--quiet", "--spin-us"})
        EXPECT_NE(reader.out().find(option), std::string::npos) << option;
    EXPECT_EQ(reader.out().find("--hold-ms"), std::string::npos) << "test hook is hidden";
}

}  // namespace
}  // namespace framebus::test
