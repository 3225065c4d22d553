// framebus-rtsp between two "machines" on loopback: segment A is served over
// RTSP and brought into segment B by a second framebus-writer reading the URL.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <regex>
#include <string>
#include <vector>

#include "framebus/reader.hpp"
#include "framebus/stamp.hpp"
#include "gst_env.hpp"
#include "program.hpp"
#include "test_support.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

// The far side: OpenCV's FFmpeg over RTSP-over-TCP (raw frames are too big
// for default UDP buffers), no player-style buffering.
ProgramOptions far_side() {
    ProgramOptions options;
    options.env = {"OPENCV_FFMPEG_CAPTURE_OPTIONS=rtsp_transport;tcp|fflags;nobuffer"};
    return options;
}

class RtspTest : public ::testing::Test {
  protected:
    void start_server(const std::string& codec) {
        ProgramOptions options;
        options.env = gst_environment();
        server_ =
            std::make_unique<Program>(std::vector<std::string>{FRAMEBUS_RTSP_BIN, "--listen",
                                                               "127.0.0.1:0", "--codec", codec},
                                      options);
        ASSERT_TRUE(server_->wait_for_out("listening on", 60s)) << server_->err();
        std::smatch match;
        const std::string out = server_->out();
        ASSERT_TRUE(std::regex_search(out, match, std::regex(R"(127\.0\.0\.1:(\d+)/)")));
        port_ = std::stoi(match[1]);
    }

    // Writer A, once its segment is there (before that, its URL is a 404).
    std::unique_ptr<Program> start_writer_a() {
        auto writer = std::make_unique<Program>(std::vector<std::string>{
            FRAMEBUS_WRITER_BIN, "--name", a_, "--resize", "320x240", "--fps", "30", "--quiet"});
        ReaderOptions options;
        options.wait_for_segment = 20s;
        auto reader = Reader::open(a_, options);
        EXPECT_TRUE(reader) << reader.error().message;
        if (reader) {
            EXPECT_NE(reader->wait(10s), WaitStatus::timed_out);
        }
        return writer;
    }

    std::string url() const { return "rtsp://127.0.0.1:" + std::to_string(port_) + "/" + a_; }

    std::unique_ptr<Program> start_far_writer(const std::string& name) {
        return std::make_unique<Program>(
            std::vector<std::string>{FRAMEBUS_WRITER_BIN, url(), "--name", name, "--quiet"},
            far_side());
    }

    // Reads `count` frames of segment `name`: in order, 320x240, and (raw)
    // with stamps that check exactly.
    void expect_frames(const std::string& name, int count, bool exact) {
        ReaderOptions options;
        options.wait_for_segment = 30s;
        auto reader = Reader::open(name, options);
        ASSERT_TRUE(reader) << reader.error().message;
        std::uint64_t last_stamp = 0;
        for (int frames = 0; frames < count;) {
            const WaitStatus status = reader->wait(20s);
            ASSERT_EQ(status, WaitStatus::frame) << to_string(status);
            auto lease = reader->next();
            ASSERT_TRUE(lease) << lease.error().message;
            EXPECT_EQ(lease->format().width, 320u);
            EXPECT_EQ(lease->format().height, 240u);
            if (exact) {
                const StampResult stamp = check_stamp(lease->data(), lease->format());
                EXPECT_EQ(stamp.check, StampCheck::ok) << "frame " << frames;
                EXPECT_GT(stamp.number, last_stamp);  // in order
                last_stamp = stamp.number;
            }
            ++frames;
        }
    }

    static void stop(std::unique_ptr<Program>& program) {
        program->kill(SIGTERM);
        EXPECT_TRUE(program->wait(15s).has_value());
        program.reset();
    }

    // One RTSP request by hand; returns the status line.
    std::string describe(const std::string& path) const {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port_));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            close(fd);
            return "connect failed";
        }
        const std::string request = "DESCRIBE rtsp://127.0.0.1:" + std::to_string(port_) + path +
                                    " RTSP/1.0\r\nCSeq: 1\r\n\r\n";
        if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
            close(fd);
            return "write failed";
        }
        char reply[512] = {};
        const ssize_t got = read(fd, reply, sizeof reply - 1);
        close(fd);
        const std::string text(reply, got > 0 ? static_cast<std::size_t>(got) : 0);
        return text.substr(0, text.find("\r\n"));
    }

    std::string a_ = unique_name("rtspa");
    std::string b_ = unique_name("rtspb");
    std::unique_ptr<Program> server_;
    int port_ = 0;
};

TEST_F(RtspTest, RawFramesCrossExactlyInOrderToTwoClients) {
    auto writer_a = start_writer_a();
    start_server("raw");
    auto writer_b = start_far_writer(b_);
    const std::string c = unique_name("rtspc");
    auto writer_c = start_far_writer(c);  // a second client of the same shared media
    expect_frames(b_, 30, true);
    expect_frames(c, 30, true);
    stop(writer_b);
    stop(writer_c);
    stop(writer_a);
    stop(server_);
}

TEST_F(RtspTest, H264SurvivesAnAbruptClientAndAWriterRestart) {
    auto writer_a = start_writer_a();
    start_server("h264");
    auto writer_b = start_far_writer(b_);
    expect_frames(b_, 10, false);
    writer_b->kill(SIGKILL);  // gone without a TEARDOWN
    ASSERT_TRUE(writer_b->wait(5s).has_value());
    remove_segment_file(b_);  // what a killed writer leaves behind
    // The server still serves: a new client (another segment on "B").
    const std::string b2 = unique_name("rtspb2");
    writer_b = start_far_writer(b2);
    expect_frames(b2, 10, false);
    // Writer A restarts: the server follows it; B keeps receiving.
    writer_a->kill(SIGKILL);
    ASSERT_TRUE(writer_a->wait(5s).has_value());
    writer_a = start_writer_a();
    expect_frames(b2, 10, false);
    stop(writer_b);
    stop(writer_a);
    stop(server_);
}

TEST_F(RtspTest, BadOrAbsentSegmentNamesAre404) {
    start_server("jpeg");
    EXPECT_EQ(describe("/" + a_), "RTSP/1.0 404 Not Found");  // no such segment
    EXPECT_EQ(describe("/../../dev/shm/x"), "RTSP/1.0 404 Not Found");
    EXPECT_EQ(describe("/.hidden"), "RTSP/1.0 404 Not Found");
    auto writer_a = start_writer_a();
    EXPECT_EQ(describe("/" + a_), "RTSP/1.0 200 OK");
    stop(writer_a);
    stop(server_);
}

TEST_F(RtspTest, BadCommandLineIsOneLineAndExitCode2) {
    ProgramRun run = run_program({FRAMEBUS_RTSP_BIN, "--codec", "vp9"}, 20s);
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_EQ(lines_of(run.err).size(), 1u) << run.err;
    run = run_program({FRAMEBUS_RTSP_BIN, "--listen", "nowhere"}, 20s);
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_EQ(lines_of(run.err).size(), 1u) << run.err;
}

}  // namespace
}  // namespace framebus::test
