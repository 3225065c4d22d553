// framebus-serve as a real process against real writers, over loopback HTTP.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "framebus/stamp.hpp"
#include "serve_harness.hpp"
#include "test_support.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

TEST(Serve, PageAndApiAnswerWithTheirContentTypesAndTheCliSchemas) {
    const std::string name = unique_name("serve-api");
    auto writer = start_writer(name, 30);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();

    auto page = serve.get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
    EXPECT_NE(page->body.find("/api/segments"), std::string::npos);
    EXPECT_EQ(page->body.find("http://"), std::string::npos) << "the page loads nothing external";

    auto list = serve.get("/api/segments");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->content_type, "application/json");
    const auto json = nlohmann::json::parse(list->body);
    EXPECT_TRUE(json.at("schema").get<std::string>().starts_with("framebus.ls/"));  // the CLI's
    bool found = false;
    for (const auto& segment : json.at("segments"))
        if (segment.at("name") == name) {
            found = true;
            EXPECT_EQ(segment.at("width"), 640);
            EXPECT_EQ(segment.at("state"), "live");
        }
    EXPECT_TRUE(found) << list->body;

    auto info = serve.get("/api/segments/" + name);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->status, 200);
    EXPECT_EQ(nlohmann::json::parse(info->body).at("name"), name);

    auto stats = serve.get("/api/stats");
    ASSERT_TRUE(stats);
    EXPECT_EQ(nlohmann::json::parse(stats->body).at("schema"), "framebus.serve.stats/1");
}

TEST(Serve, PngSnapshotIsTheExactStampedFrameAndJpegDecodesToTheFrame) {
    const std::string name = unique_name("serve-snap");
    auto writer = start_writer(name, 30, /*blocks=*/true);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();

    auto png = serve.get("/snapshot/" + name + ".png");
    ASSERT_TRUE(png);
    ASSERT_EQ(png->status, 200) << png->body;
    EXPECT_EQ(png->content_type, "image/png");
    const cv::Mat frame = decode(png->body, cv::IMREAD_UNCHANGED);
    ASSERT_EQ(frame.cols, 640);
    ASSERT_EQ(frame.type(), CV_8UC3);
    const StampResult stamp = check_stamp(reinterpret_cast<const std::byte*>(frame.data),
                                          FrameFormat::packed(640, 480, PixelFormat::bgr24));
    EXPECT_EQ(stamp.check, StampCheck::ok);
    EXPECT_EQ(std::to_string(stamp.number), png->headers["x-framebus-sequence"]);

    auto jpeg = serve.get("/snapshot/" + name + ".jpg?quality=90&width=320");
    ASSERT_TRUE(jpeg);
    ASSERT_EQ(jpeg->status, 200);
    EXPECT_EQ(jpeg->content_type, "image/jpeg");
    const cv::Mat small = decode(jpeg->body, cv::IMREAD_COLOR);
    EXPECT_EQ(small.cols, 320);
    EXPECT_EQ(small.rows, 240);
    EXPECT_LT(blocks_error(small), 6.0);
}

// The YUV formats take other encode paths than BGR: I420 goes to TurboJPEG
// straight from its planes (unless scaled), NV12 and YUYV are converted first.
// Each must come out as the blocks pattern's colours: swapped or misplaced
// planes give wrong colours in some quadrant.
TEST(Serve, YuvSegmentsAreEncodedToTheirFrameInEveryPath) {
    for (const std::string format : {"i420", "nv12", "yuyv"}) {
        SCOPED_TRACE(format);
        const std::string name = unique_name("serve-" + format);
        auto writer = start_writer(name, 30, /*blocks=*/true, {"--format", format});
        ServeProcess serve;
        ASSERT_TRUE(serve.ready()) << serve.program().err();

        auto info = serve.get("/api/segments/" + name);
        ASSERT_TRUE(info);
        ASSERT_EQ(info->status, 200) << info->body;
        EXPECT_NE(info->body.find("\"" + format + "\""), std::string::npos)
            << "the writer published " << format << ": " << info->body;

        // PNG: converted to BGR, lossless after that (YUV rounding only).
        auto png = serve.get("/snapshot/" + name + ".png");
        ASSERT_TRUE(png);
        ASSERT_EQ(png->status, 200) << png->body;
        const cv::Mat exact = decode(png->body, cv::IMREAD_UNCHANGED);
        ASSERT_EQ(exact.type(), CV_8UC3);
        ASSERT_EQ(exact.cols, 640);
        ASSERT_EQ(exact.rows, 480);
        EXPECT_LT(blocks_error(exact), 3.0);

        // JPEG at full size (I420: the direct path) and scaled (the conversion path).
        for (const std::string query : {"", "?width=320"}) {
            SCOPED_TRACE(query);
            auto jpeg = serve.get("/snapshot/" + name + ".jpg" + query);
            ASSERT_TRUE(jpeg);
            ASSERT_EQ(jpeg->status, 200) << jpeg->body;
            EXPECT_EQ(jpeg->content_type, "image/jpeg");
            const cv::Mat image = decode(jpeg->body, cv::IMREAD_COLOR);
            ASSERT_EQ(image.cols, query.empty() ? 640 : 320);
            EXPECT_LT(blocks_error(image), 6.0);
        }

        // The stream's encoder (the feed thread's), full size.
        MjpegStream stream(serve.port(), "/stream/" + name);
        ASSERT_TRUE(stream.connected()) << stream.failure();
        auto part = stream.next(5s);
        ASSERT_TRUE(part);
        const cv::Mat streamed = decode(part->jpeg, cv::IMREAD_COLOR);
        ASSERT_EQ(streamed.cols, 640);
        EXPECT_LT(blocks_error(streamed), 6.0);
    }
}

TEST(Serve, StreamIsMultipartJpegOfNewFramesWithTheirSequences) {
    const std::string name = unique_name("serve-stream");
    auto writer = start_writer(name, 30, /*blocks=*/true);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();

    MjpegStream stream(serve.port(), "/stream/" + name + "?width=320&quality=85");
    ASSERT_TRUE(stream.connected());
    EXPECT_EQ(stream.status(), 200);
    EXPECT_EQ(stream.content_type(), "multipart/x-mixed-replace; boundary=framebusframe");
    std::uint64_t previous = 0;
    for (int i = 0; i < 10; ++i) {
        auto part = stream.next(5s);
        ASSERT_TRUE(part) << "part " << i;
        EXPECT_EQ(part->content_type, "image/jpeg");
        EXPECT_GT(part->sequence, previous);
        previous = part->sequence;
        const cv::Mat image = decode(part->jpeg, cv::IMREAD_COLOR);
        ASSERT_EQ(image.cols, 320);
        EXPECT_LT(blocks_error(image), 6.0);
    }
}

TEST(Serve, BadRequestsGet404Or400AndNeverReachOutsideTheSegments) {
    const std::string name = unique_name("serve-bad");
    auto writer = start_writer(name, 30);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();
    const std::vector<std::pair<std::string, int>> cases{
        {"/stream/no-such-segment", 404},
        {"/snapshot/no-such-segment.png", 404},
        {"/api/segments/no-such-segment", 404},
        {"/stream/../../etc/passwd", 404},
        {"/stream/..%2F..%2Fetc%2Fpasswd", 404},
        {"/snapshot/..%2Fpasswd.png", 404},
        {"/snapshot/.hidden.png", 404},
        {"/api/segments/..", 404},
        {"/snapshot/" + name + ".gif", 404},
        {"/nothing-here", 404},
        {"/stream/" + name + "?quality=0", 400},
        {"/stream/" + name + "?quality=101", 400},
        {"/stream/" + name + "?width=abc", 400},
        {"/stream/" + name + "?fps=-1", 400},
        {"/stream/" + name + "?colour=red", 400},
        {"/stream/" + name + "?quality", 400},
        {"/snapshot/" + name + ".jpg?fps=3", 400},
    };
    for (const auto& [target, status] : cases) {
        auto reply = serve.get(target);
        ASSERT_TRUE(reply) << target;
        EXPECT_EQ(reply->status, status) << target << ": " << reply->body;
        EXPECT_TRUE(reply->body.starts_with("framebus-serve: ")) << target;
        EXPECT_EQ(reply->body.find("root:"), std::string::npos) << target;
    }
    EXPECT_EQ(serve.stat("encodes"), 0) << "no request above watched anything";
}

TEST(Serve, AClientBeyondTheLimitGets503WithAClearBody) {
    const std::string name = unique_name("serve-limit");
    auto writer = start_writer(name, 30);
    ServeProcess serve({"--max-clients", "2"});
    ASSERT_TRUE(serve.ready()) << serve.program().err();
    MjpegStream first(serve.port(), "/stream/" + name);
    MjpegStream second(serve.port(), "/stream/" + name);
    ASSERT_TRUE(first.next(5s));
    ASSERT_TRUE(second.next(5s));
    MjpegStream third(serve.port(), "/stream/" + name);
    ASSERT_TRUE(third.connected()) << third.failure();
    EXPECT_EQ(third.status(), 503);
    EXPECT_NE(third.body_start().find("too many clients (at most 2)"), std::string::npos)
        << third.body_start();
    EXPECT_TRUE(first.next(5s)) << "the others keep streaming";
}

TEST(Serve, StreamFollowsAWriterRestartAndEndsCleanlyAtEndOfStream) {
    const std::string name = unique_name("serve-follow");
    auto writer = start_writer(name, 30);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();
    MjpegStream stream(serve.port(), "/stream/" + name);
    auto before = stream.next(5s);
    ASSERT_TRUE(before);

    writer->kill(SIGKILL);  // the segment stays, its writer is dead
    ASSERT_TRUE(writer->wait(5s));
    auto restarted = start_writer(name, 30);
    // A new writer's sequences start again from 1: a part numbered below the
    // last one seen before is from the new writer.
    std::uint64_t last = before->sequence;
    bool followed = false;
    for (int i = 0; i < 300 && !followed; ++i) {
        auto part = stream.next(5s);
        ASSERT_TRUE(part) << "the stream stays open across the restart";
        followed = part->sequence < last;
        last = part->sequence;
    }
    EXPECT_TRUE(followed) << "parts come from the new writer";

    restarted->kill(SIGTERM);  // end of stream
    ASSERT_EQ(restarted->wait(5s), 0);
    while (stream.next(5s)) {
    }
    EXPECT_TRUE(stream.ended_cleanly()) << "the response ends with the final boundary";
}

TEST(Serve, NothingIsEncodedWhileNobodyWatches) {
    const std::string name = unique_name("serve-idle");
    auto writer = start_writer(name, 30);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();
    ASSERT_TRUE(serve.get("/"));
    ASSERT_TRUE(serve.get("/api/segments"));
    std::this_thread::sleep_for(500ms);  // a measurement window: frames that nobody watches
    EXPECT_EQ(serve.stat("encodes"), 0);
    EXPECT_EQ(serve.stat("feeds"), 0);
    {
        MjpegStream stream(serve.port(), "/stream/" + name);
        for (int i = 0; i < 5; ++i) ASSERT_TRUE(stream.next(5s));
        EXPECT_GE(serve.stat("encodes"), 5);
    }
    // The client has gone: the feed stops (its reader detaches) within a reap interval.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (serve.stat("feeds") != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    ASSERT_EQ(serve.stat("feeds"), 0);
    const long long encodes = serve.stat("encodes");
    std::this_thread::sleep_for(500ms);  // measurement window
    EXPECT_EQ(serve.stat("encodes"), encodes);
}

// The server is a reader of a segment while someone watches it: the bus's
// own count (the CLI's `framebus ls --json`, and the same document at
// /api/segments, which the page shows) has it, with the server's pid, and
// loses it once the last client has gone.
TEST(Serve, TheServersReaderIsCountedWhileAClientWatches) {
    const std::string name = unique_name("serve-readers");
    auto writer = start_writer(name, 30);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();
    const auto readers_in = [&name](const nlohmann::json& list) {
        for (const auto& segment : list.at("segments"))
            if (segment.at("name") == name) return segment.at("readers_attached").get<int>();
        return -1;
    };
    const auto cli_readers = [&] {
        const ProgramRun run = run_program({FRAMEBUS_CLI_BIN, "ls", "--json"}, 10s);
        EXPECT_EQ(run.exit_code, 0) << run.err;
        return readers_in(nlohmann::json::parse(run.out));
    };
    EXPECT_EQ(cli_readers(), 0) << "nobody watches: the server has no reader";
    {
        MjpegStream stream(serve.port(), "/stream/" + name);
        ASSERT_TRUE(stream.next(5s));
        EXPECT_EQ(cli_readers(), 1);
        auto list = serve.get("/api/segments");
        ASSERT_TRUE(list);
        EXPECT_EQ(readers_in(nlohmann::json::parse(list->body)), 1) << list->body;
        auto info = serve.get("/api/segments/" + name);
        ASSERT_TRUE(info);
        const auto readers = nlohmann::json::parse(info->body).at("readers");
        ASSERT_EQ(readers.size(), 1u) << info->body;
        EXPECT_EQ(readers[0].at("pid"), serve.program().pid());
        EXPECT_EQ(readers[0].at("alive"), true);
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (serve.stat("feeds") != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);  // polling the server's state
    ASSERT_EQ(serve.stat("feeds"), 0);
    EXPECT_EQ(cli_readers(), 0) << "the reader went with the last client";
}

TEST(Serve, SigtermClosesOpenStreamsAndExitsZero) {
    const std::string name = unique_name("serve-term");
    auto writer = start_writer(name, 30);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();
    MjpegStream stream(serve.port(), "/stream/" + name);
    ASSERT_TRUE(stream.next(5s));
    serve.program().kill(SIGTERM);
    EXPECT_EQ(serve.program().wait(5s), 0) << serve.program().err();
    while (stream.next(5s)) {
    }
    EXPECT_NE(serve.program().out().find("serve summary: encodes="), std::string::npos);
}

TEST(Serve, BadOptionsAreOneLineAndExitCode2) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--listen", "nowhere"},
          std::vector<std::string>{"--listen", "127.0.0.1:99999"},
          std::vector<std::string>{"--quality", "0"}, std::vector<std::string>{"--bogus"}}) {
        std::vector<std::string> argv{FRAMEBUS_SERVE_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        const ProgramRun run = run_program(argv, 10s);
        EXPECT_EQ(run.exit_code, 2) << args[0];
        EXPECT_EQ(lines_of(run.err).size(), 1u) << run.err;
        EXPECT_TRUE(run.err.starts_with("framebus-serve: error: ")) << run.err;
    }
}

}  // namespace
}  // namespace framebus::test
