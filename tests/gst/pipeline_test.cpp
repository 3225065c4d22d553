// End to end: real framebus-writer and gst-launch-1.0 processes around the
// plugin, in real pipelines.
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <string>

#include "framebus/reader.hpp"
#include "framebus/stamp.hpp"
#include "gst_env.hpp"
#include "program.hpp"
#include "test_support.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

class GstPipelineTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { init_gstreamer(); }

    // A writer stopped the way users stop it: its segment is unlinked.
    static void stop(Program& writer) {
        writer.kill(SIGTERM);
        EXPECT_TRUE(writer.wait(10s).has_value());
    }

    ProgramOptions gst_options() const {
        ProgramOptions options;
        options.env = gst_environment();
        return options;
    }

    // Reads the segment a framebussink in `launch` publishes: every frame
    // with next() until end of stream, each lease gone before the next
    // frame. Checks more than 10 came, none was lost silently and
    // gst-launch ended well. Returns how many frames came.
    int take_every_frame(Program& launch, const std::function<void(const Lease&)>& each) {
        ReaderOptions options;
        options.wait_for_segment = 20s;
        auto reader = Reader::open(name_, options);
        EXPECT_TRUE(reader) << (reader ? "" : reader.error().message) << "\n" << launch.err();
        int frames = 0;
        while (reader) {
            const WaitStatus status = reader->wait(10s);
            if (status != WaitStatus::frame) {
                EXPECT_EQ(status, WaitStatus::end_of_stream);
                break;
            }
            auto lease = reader->next();
            if (!lease) {
                ADD_FAILURE() << lease.error().message;
                break;
            }
            each(*lease);
            ++frames;
        }
        EXPECT_GT(frames, 10);
        if (reader) {
            EXPECT_EQ(reader->skipped() + reader->frames(), reader->latest_sequence());
        }
        const auto code = launch.wait(20s);
        EXPECT_EQ(code.value_or(-1), 0) << launch.err();
        return frames;
    }

    std::string name_ = unique_name("gstp");
};

TEST_F(GstPipelineTest, WriterFramesArriveInOrderWithValidStamps) {
    Program writer(
        {FRAMEBUS_WRITER_BIN, "--name", name_, "--resize", "160x120", "--fps", "200", "--quiet"});
    GError* error = nullptr;
    GstElement* pipeline = gst_parse_launch(
        ("framebussrc segment=" + name_ +
         " follow=true mode=next num-buffers=40 ! queue ! appsink name=out sync=false")
            .c_str(),
        &error);
    ASSERT_NE(pipeline, nullptr) << (error != nullptr ? error->message : "");
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "out");
    ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_ASYNC);
    int frames = 0;
    std::uint64_t last_number = 0;
    while (GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 10 * GST_SECOND)) {
        GstVideoInfo info;
        ASSERT_TRUE(gst_video_info_from_caps(&info, gst_sample_get_caps(sample)));
        EXPECT_EQ(GST_VIDEO_INFO_FORMAT(&info), GST_VIDEO_FORMAT_BGR);
        GstVideoFrame frame;
        ASSERT_TRUE(
            gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ));
        FrameFormat format = FrameFormat::packed(160, 120, PixelFormat::bgr24);
        ASSERT_EQ(static_cast<std::uint64_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0)),
                  format.bytes() / 120);
        const StampResult stamp = check_stamp(
            static_cast<const std::byte*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)), format);
        EXPECT_EQ(stamp.check, StampCheck::ok);
        EXPECT_GT(stamp.number, last_number);  // mode=next: in order
        last_number = stamp.number;
        gst_video_frame_unmap(&frame);
        gst_sample_unref(sample);
        ++frames;
    }
    EXPECT_EQ(frames, 40);
    EXPECT_TRUE(gst_app_sink_is_eos(GST_APP_SINK(sink)));
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    stop(writer);
}

TEST_F(GstPipelineTest, GstLaunchReadsASegment) {
    Program writer(
        {FRAMEBUS_WRITER_BIN, "--name", name_, "--resize", "160x120", "--fps", "100", "--quiet"});
    // `name=NAME` alone names the segment too.
    ProgramRun run =
        run_program({FRAMEBUS_GST_LAUNCH, "-q", "framebussrc", "name=" + name_, "follow=true",
                     "num-buffers=30", "!", "videoconvert", "!", "fakesink"},
                    30s);
    ASSERT_TRUE(run.exit_code.has_value()) << "gst-launch-1.0 hung";
    EXPECT_EQ(*run.exit_code, 0) << run.err;
    stop(writer);
}

TEST_F(GstPipelineTest, VideotestsrcIntoFramebussinkReachesAReader) {
    Program launch(
        {FRAMEBUS_GST_LAUNCH, "-q", "videotestsrc", "num-buffers=90", "is-live=true", "!",
         "video/x-raw,format=I420,width=320,height=240,framerate=60/1", "!", "videoconvert", "!",
         "video/x-raw,format=BGR", "!", "framebussink", "segment=" + name_},
        gst_options());
    take_every_frame(launch, [](const Lease& lease) {
        EXPECT_EQ(lease.format().width, 320u);
        EXPECT_EQ(lease.format().height, 240u);
        EXPECT_EQ(lease.format().pixel_format, PixelFormat::bgr24);
    });
}

// reuse-newest=true: a reader that takes every frame and lets it go gets all
// of them, nearly all written into one slot (the writer goes over the frame
// it had; by default it alternates between two, about half in each).
TEST_F(GstPipelineTest, FramebussinkWithReuseNewestWritesOneSlotForAReaderThatKeepsUp) {
    Program launch({FRAMEBUS_GST_LAUNCH, "-q", "videotestsrc", "num-buffers=60", "is-live=true",
                    "!", "video/x-raw,format=BGR,width=160,height=120,framerate=30/1", "!",
                    "framebussink", "segment=" + name_, "reuse-newest=true"},
                   gst_options());
    std::map<std::uint32_t, int> frames_in_slot;
    const int frames =
        take_every_frame(launch, [&](const Lease& lease) { ++frames_in_slot[lease.slot_index()]; });
    int most = 0;
    for (const auto& [slot, count] : frames_in_slot) most = std::max(most, count);
    EXPECT_GE(most * 10, frames * 8)
        << "at least 80 % of the frames in one slot; " << frames_in_slot.size() << " slots used";
}

TEST_F(GstPipelineTest, InspectDocumentsEveryProperty) {
    ProgramRun run = run_program({FRAMEBUS_GST_INSPECT, "framebussrc"}, 30s);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    for (const char* property :
         {"segment", "mode", "follow", "is-live", "max-leases", "copies", "leases-held", "frames"})
        EXPECT_NE(run.out.find(std::string("  ") + property), std::string::npos) << property;
    run = run_program({FRAMEBUS_GST_INSPECT, "framebussink"}, 30s);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    for (const char* property : {"segment", "slots", "max-readers", "leases-per-reader", "mode",
                                 "reuse-newest", "published", "dropped"})
        EXPECT_NE(run.out.find(std::string("  ") + property), std::string::npos) << property;
}

}  // namespace
}  // namespace framebus::test
