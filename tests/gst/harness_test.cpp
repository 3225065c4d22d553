// GstHarness tests of framebussrc and framebussink against an in-process
// Writer / Reader: caps, metas, timestamps, lease lifetime, the lease cap,
// EOS, renegotiation, and every pixel format through both elements.
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "framebus/inspect.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "gst_env.hpp"
#include "test_support.hpp"
#include "video_format.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

// Fills every plane row with bytes derived from (number, plane, row, column).
void fill_frame(std::byte* data, const FrameFormat& format, std::uint64_t number) {
    GstVideoInfo info;
    ASSERT_TRUE(gst::video_info_of(format, info));
    for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES(&info); ++p) {
        const auto row = static_cast<std::size_t>(GST_VIDEO_INFO_COMP_WIDTH(&info, p)) *
                         static_cast<std::size_t>(GST_VIDEO_INFO_COMP_PSTRIDE(&info, p));
        for (guint y = 0; y < static_cast<guint>(GST_VIDEO_INFO_COMP_HEIGHT(&info, p)); ++y) {
            std::byte* line = data + info.offset[p] + static_cast<std::size_t>(y) * info.stride[p];
            for (std::size_t x = 0; x < row; ++x)
                line[x] = static_cast<std::byte>(number * 31 + p * 7 + y * 3 + x);
        }
    }
}

// Does the buffer (laid out as its GstVideoMeta says) carry fill_frame(number)?
bool buffer_matches(GstBuffer* buffer, const FrameFormat& format, std::uint64_t number) {
    GstVideoInfo info;
    if (!gst::video_info_of(format, info)) return false;
    gst_video_info_set_format(&info, GST_VIDEO_INFO_FORMAT(&info), format.width, format.height);
    GstVideoFrame frame;
    if (!gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ)) return false;
    bool same = true;
    for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&frame) && same; ++p) {
        const auto row = static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_WIDTH(&frame, p)) *
                         static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, p));
        for (guint y = 0; y < static_cast<guint>(GST_VIDEO_FRAME_COMP_HEIGHT(&frame, p)); ++y) {
            const auto* line =
                static_cast<const std::uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, p)) +
                static_cast<std::size_t>(y) * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p);
            for (std::size_t x = 0; x < row; ++x)
                if (line[x] != static_cast<std::uint8_t>(number * 31 + p * 7 + y * 3 + x)) {
                    same = false;
                    break;
                }
        }
    }
    gst_video_frame_unmap(&frame);
    return same;
}

std::vector<PixelFormat> all_formats() {
    std::vector<PixelFormat> formats = {PixelFormat::bgr24,  PixelFormat::rgb24,
                                        PixelFormat::gray8,  PixelFormat::gray16,
                                        PixelFormat::bgra32, PixelFormat::rgba32};
    formats.insert(formats.end(), {PixelFormat::i420, PixelFormat::nv12, PixelFormat::yuyv});
    return formats;
}

class GstElementTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { init_gstreamer(); }

    void TearDown() override {
        if (harness_ != nullptr) gst_harness_teardown(harness_);
    }

    Writer make_writer(const FrameFormat& format, std::uint32_t max_readers = 2) {
        WriterOptions options;
        options.name = name_;
        options.max_readers = max_readers;
        options.initial_format = format;
        auto writer = Writer::create(options);
        EXPECT_TRUE(writer) << writer.error().message;
        return std::move(*writer);
    }

    static void publish(Writer& writer, const FrameFormat& format, std::uint64_t number,
                        std::int64_t capture_ns = 0) {
        auto slot = writer.acquire(format);
        ASSERT_TRUE(slot) << slot.error().message;
        fill_frame(slot->data(), slot->format(), number);
        slot->commit(capture_ns);
    }

    // A harness around a framebussrc of our segment; `mode` as in gst-launch.
    GstHarness* source(const char* mode = "latest") {
        harness_ = gst_harness_new("framebussrc");
        g_object_set(harness_->element, "segment", name_.c_str(), nullptr);
        gst_util_set_object_arg(G_OBJECT(harness_->element), "mode", mode);
        return harness_;
    }

    // Slots of the segment some reader holds.
    std::uint32_t held_slots() {
        auto view = inspect(name_);
        if (!view) return 0;
        std::uint32_t held = 0;
        for (const auto& slot : view->slots) held += slot.holders != 0 ? 1 : 0;
        return held;
    }

    std::string name_ = unique_name("gst");
    GstHarness* harness_ = nullptr;
};

TEST_F(GstElementTest, SourceCapsAndVideoMetaComeFromTheSlot) {
    for (const PixelFormat pixel_format : all_formats()) {
        SCOPED_TRACE(to_string(pixel_format));
        const auto format = FrameFormat::packed(64, 48, pixel_format);
        Writer writer = make_writer(format);
        GstHarness* h = source();
        gst_harness_play(h);
        publish(writer, format, 5);
        GstBuffer* buffer = gst_harness_pull(h);
        ASSERT_NE(buffer, nullptr);

        GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
        ASSERT_NE(caps, nullptr);
        GstVideoInfo info;
        ASSERT_TRUE(gst_video_info_from_caps(&info, caps));
        EXPECT_EQ(GST_VIDEO_INFO_FORMAT(&info), gst::to_gst(pixel_format));
        EXPECT_EQ(GST_VIDEO_INFO_WIDTH(&info), 64);
        EXPECT_EQ(GST_VIDEO_INFO_HEIGHT(&info), 48);
        EXPECT_EQ(GST_VIDEO_INFO_FPS_N(&info), 0);
        gst_caps_unref(caps);

        GstVideoMeta* meta = gst_buffer_get_video_meta(buffer);
        ASSERT_NE(meta, nullptr);
        ASSERT_EQ(meta->n_planes, format.plane_count);
        for (guint p = 0; p < meta->n_planes; ++p) {
            EXPECT_EQ(meta->offset[p], format.planes[p].offset);
            EXPECT_EQ(static_cast<std::uint64_t>(meta->stride[p]), format.planes[p].stride);
        }
        EXPECT_TRUE(buffer_matches(buffer, format, 5));
        EXPECT_EQ(GST_BUFFER_OFFSET(buffer), 1u);  // the frame's sequence
        gst_buffer_unref(buffer);
        gst_harness_teardown(h);
        harness_ = nullptr;
    }
}

TEST_F(GstElementTest, TimestampsAreCaptureTimeAsRunningTime) {
    const auto format = FrameFormat::packed(32, 32, PixelFormat::gray8);
    Writer writer = make_writer(format);
    GstHarness* h = source();
    gst_harness_use_testclock(h);
    gst_harness_play(h);
    ASSERT_TRUE(gst_harness_set_time(h, 5 * GST_SECOND));
    const GstClockTime base = gst_element_get_base_time(h->element);
    const std::int64_t before = now_ns();
    publish(writer, format, 1, before - 20'000'000);  // captured 20 ms ago
    GstBuffer* buffer = gst_harness_pull(h);
    const std::int64_t after = now_ns();
    ASSERT_NE(buffer, nullptr);
    // pts = capture + (clock now - monotonic now) - base, monotonic now in [before, after].
    const std::int64_t latest =
        5 * static_cast<std::int64_t>(GST_SECOND) - 20'000'000 - static_cast<std::int64_t>(base);
    const auto pts = static_cast<std::int64_t>(GST_BUFFER_PTS(buffer));
    EXPECT_LE(pts, latest);
    EXPECT_GE(pts, latest - (after - before));
    gst_buffer_unref(buffer);
}

TEST_F(GstElementTest, BufferFreeReleasesTheLeaseEvenAfterTheElementIsGone) {
    const auto format = FrameFormat::packed(64, 48, PixelFormat::bgr24);
    Writer writer = make_writer(format);
    GstHarness* h = source();
    gst_harness_play(h);
    publish(writer, format, 1);
    GstBuffer* buffer = gst_harness_pull(h);
    ASSERT_NE(buffer, nullptr);
    guint64 copies = 0;
    g_object_get(h->element, "copies", &copies, nullptr);
    if (copies == 0) {  // wrapped: the buffer holds the slot
        EXPECT_EQ(held_slots(), 1u);
    }
    gst_harness_teardown(h);  // the element and its reader are gone...
    harness_ = nullptr;
    EXPECT_TRUE(buffer_matches(buffer, format, 1));  // ...the buffer still reads its frame
    gst_buffer_unref(buffer);
    EXPECT_EQ(held_slots(), 0u);
}

TEST_F(GstElementTest, BuffersPastTheLeaseCapAreCopiedAndTheWriterNeverWaits) {
    const auto format = FrameFormat::packed(64, 48, PixelFormat::rgb24);
    Writer writer = make_writer(format, 2);
    GstHarness* h = source("next");
    gst_harness_play(h);
    std::vector<GstBuffer*> held;
    constexpr int kFrames = 12;
    for (int i = 1; i <= kFrames; ++i) {
        publish(writer, format, static_cast<std::uint64_t>(i));
        GstBuffer* buffer = gst_harness_pull(h);
        ASSERT_NE(buffer, nullptr);
        EXPECT_TRUE(buffer_matches(buffer, format, static_cast<std::uint64_t>(i)));
        held.push_back(buffer);  // a downstream that keeps every frame
    }
    guint64 copies = 0;
    guint leases = 0;
    g_object_get(h->element, "copies", &copies, "leases-held", &leases, nullptr);
    auto reader = Reader::open(name_);
    ASSERT_TRUE(reader);
    const std::uint32_t cap = reader->max_leases() - 1;
    EXPECT_EQ(leases, cap);
    EXPECT_EQ(copies, kFrames - cap);
    EXPECT_EQ(held_slots(), cap);
    EXPECT_EQ(writer.stats().dropped, 0u);
    // Freed while the source waits for a frame, a lease is released when the
    // wait returns; stopping the element releases it at once.
    for (GstBuffer* buffer : held) gst_buffer_unref(buffer);
    gst_harness_teardown(h);
    harness_ = nullptr;
    EXPECT_EQ(held_slots(), 0u);
}

TEST_F(GstElementTest, EndOfStreamIsEos) {
    const auto format = FrameFormat::packed(32, 32, PixelFormat::gray8);
    Writer writer = make_writer(format);
    GstHarness* h = source();
    gst_harness_play(h);
    publish(writer, format, 1);
    gst_buffer_unref(gst_harness_pull(h));
    writer.end_of_stream();
    for (;;) {
        GstEvent* event = gst_harness_pull_event(h);
        ASSERT_NE(event, nullptr) << "no EOS";
        const bool eos = GST_EVENT_TYPE(event) == GST_EVENT_EOS;
        gst_event_unref(event);
        if (eos) break;
    }
}

TEST_F(GstElementTest, ShapeChangeRenegotiatesCaps) {
    const auto small = FrameFormat::packed(32, 32, PixelFormat::bgr24);
    const auto large = FrameFormat::packed(64, 48, PixelFormat::bgr24);
    WriterOptions options;
    options.name = name_;
    options.initial_format = small;
    options.slot_capacity = large.bytes();  // both fit: the description changes, not the segment
    auto writer = Writer::create(options);
    ASSERT_TRUE(writer);
    GstHarness* h = source("next");
    gst_harness_play(h);
    publish(*writer, small, 1);
    gst_buffer_unref(gst_harness_pull(h));
    publish(*writer, large, 2);
    GstBuffer* buffer = gst_harness_pull(h);
    ASSERT_NE(buffer, nullptr);
    GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
    GstVideoInfo info;
    ASSERT_TRUE(gst_video_info_from_caps(&info, caps));
    EXPECT_EQ(GST_VIDEO_INFO_WIDTH(&info), 64);
    EXPECT_EQ(GST_VIDEO_INFO_HEIGHT(&info), 48);
    EXPECT_TRUE(buffer_matches(buffer, large, 2));
    gst_caps_unref(caps);
    gst_buffer_unref(buffer);
}

TEST_F(GstElementTest, ShapeChangeThatReplacesTheSegmentRenegotiatesWithoutFollow) {
    const auto small = FrameFormat::packed(32, 32, PixelFormat::gray8);
    const auto large = FrameFormat::packed(128, 96, PixelFormat::gray8);
    Writer writer = make_writer(small);  // slots sized for the small frame
    GstHarness* h = source("next");
    gst_harness_play(h);
    publish(writer, small, 1);
    GstBuffer* held = gst_harness_pull(h);  // keeps a lease in the old segment
    publish(writer, large, 2);              // does not fit: the writer replaces the segment
    EXPECT_EQ(writer.stats().replaced, 1u);
    GstBuffer* buffer = gst_harness_pull(h);
    ASSERT_NE(buffer, nullptr);
    EXPECT_TRUE(buffer_matches(buffer, large, 2));
    EXPECT_TRUE(buffer_matches(held, small, 1));  // the old slot is still readable
    gst_buffer_unref(held);
    gst_buffer_unref(buffer);
}

TEST_F(GstElementTest, FollowWaitsForTheSegmentAndFollowsAWriterRestart) {
    const auto format = FrameFormat::packed(32, 32, PixelFormat::rgb24);
    GstHarness* h = source();
    g_object_set(h->element, "follow", TRUE, nullptr);
    gst_harness_play(h);  // no segment yet: the source waits for it
    {
        Writer first = make_writer(format);
        publish(first, format, 1);
        GstBuffer* buffer = gst_harness_pull(h);
        ASSERT_NE(buffer, nullptr);
        EXPECT_TRUE(buffer_matches(buffer, format, 1));
        gst_buffer_unref(buffer);
    }  // the first writer ends its stream and goes
    Writer second = make_writer(format);
    publish(second, format, 7);
    GstBuffer* buffer = gst_harness_pull(h);
    ASSERT_NE(buffer, nullptr);
    EXPECT_TRUE(buffer_matches(buffer, format, 7));
    gst_buffer_unref(buffer);
    while (GstEvent* event = gst_harness_try_pull_event(h)) {
        EXPECT_NE(GST_EVENT_TYPE(event), GST_EVENT_EOS);
        gst_event_unref(event);
    }
}

TEST_F(GstElementTest, MissingSegmentFailsToStartWithoutFollow) {
    GstHarness* h = source();
    EXPECT_EQ(gst_element_set_state(h->element, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
}

TEST_F(GstElementTest, SinkPublishesEveryFormatAndSourceReadsItBack) {
    for (const PixelFormat pixel_format : all_formats()) {
        SCOPED_TRACE(to_string(pixel_format));
        const auto format = FrameFormat::packed(64, 48, pixel_format);
        GstHarness* sink = gst_harness_new_parse(("framebussink segment=" + name_).c_str());
        GstVideoInfo info;
        gst_video_info_set_format(&info, gst::to_gst(pixel_format), 64, 48);
        GST_VIDEO_INFO_FPS_N(&info) = 30;
        gst_harness_set_src_caps(sink, gst_video_info_to_caps(&info));
        // A buffer in GStreamer's default layout, filled like a slot would be.
        GstBuffer* buffer = gst_buffer_new_allocate(nullptr, info.size, nullptr);
        {
            GstMapInfo map;
            ASSERT_TRUE(gst_buffer_map(buffer, &map, GST_MAP_WRITE));
            FrameFormat gst_layout = format;
            for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES(&info); ++p)
                gst_layout.planes[p] = {info.offset[p], static_cast<std::uint64_t>(info.stride[p])};
            fill_frame(reinterpret_cast<std::byte*>(map.data), gst_layout, 9);
            gst_buffer_unmap(buffer, &map);
        }
        GST_BUFFER_PTS(buffer) = 0;
        ASSERT_EQ(gst_harness_push(sink, buffer), GST_FLOW_OK);

        auto reader = Reader::open(name_);
        ASSERT_TRUE(reader) << reader.error().message;
        auto lease = reader->latest();
        ASSERT_TRUE(lease) << lease.error().message;
        EXPECT_EQ(lease->format().pixel_format, pixel_format);
        EXPECT_EQ(lease->format(), format);  // the slot is tightly packed (OpenCV's layout)

        GstHarness* src = source();
        gst_harness_play(src);
        GstBuffer* read_back = gst_harness_pull(src);
        ASSERT_NE(read_back, nullptr);
        EXPECT_TRUE(buffer_matches(read_back, format, 9));
        gst_buffer_unref(read_back);
        lease->release();

        ASSERT_TRUE(gst_harness_push_event(sink, gst_event_new_eos()));
        EXPECT_EQ(reader->wait(1s), WaitStatus::end_of_stream);
        gst_harness_teardown(src);
        harness_ = nullptr;
        gst_harness_teardown(sink);
        EXPECT_FALSE(segment_exists(name_));  // the sink's writer closed
    }
}

}  // namespace
}  // namespace framebus::test
