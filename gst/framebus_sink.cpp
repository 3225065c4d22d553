// framebussink: every buffer is copied once into a slot (plane by plane, from
// the mapped GstVideoFrame) and published; EOS marks the segment's end of
// stream. A caps change changes the frame description, or replaces the
// segment when the new frames do not fit (the Writer does that).
#include "framebus_sink.hpp"

#include <gst/video/video.h>

#include <cstring>
#include <optional>
#include <string>

#include "framebus/writer.hpp"
#include "video_format.hpp"

GST_DEBUG_CATEGORY_STATIC(framebus_sink_debug);
#define GST_CAT_DEFAULT framebus_sink_debug

namespace {

enum {
    PROP_0,
    PROP_SEGMENT,
    PROP_SLOTS,
    PROP_MAX_READERS,
    PROP_LEASES_PER_READER,
    PROP_MODE,
    PROP_REUSE_NEWEST,
    PROP_PUBLISHED,
    PROP_DROPPED,
};

struct SinkState {
    // Properties (under the object lock).
    std::string segment;
    guint slots = 0;
    guint max_readers = 8;
    guint leases_per_reader = 2;
    bool reuse_newest = false;
    guint mode = 0600;

    // Streaming.
    std::optional<framebus::Writer> writer;
    GstVideoInfo info{};
    framebus::FrameFormat format{};
    guint64 published = 0;  // under the object lock
    guint64 dropped = 0;
};

SinkState& state_of(gpointer object);

}  // namespace

struct _GstFramebusSink {
    GstBaseSink parent;
    SinkState* state;
};

G_DEFINE_TYPE(GstFramebusSink, gst_framebus_sink, GST_TYPE_BASE_SINK)

namespace {

SinkState& state_of(gpointer object) {
    return *GST_FRAMEBUS_SINK(object)->state;
}

// Buffer time (running time on the pipeline clock) as CLOCK_MONOTONIC, the
// bus's clock; 0 ("now") when there is no clock or timestamp.
std::int64_t capture_ns_of(GstBaseSink* sink, GstBuffer* buffer) {
    const GstClockTime pts = GST_BUFFER_PTS(buffer);
    if (!GST_CLOCK_TIME_IS_VALID(pts)) return 0;
    const GstClockTime running = gst_segment_to_running_time(&sink->segment, GST_FORMAT_TIME, pts);
    GstClock* clock = gst_element_get_clock(GST_ELEMENT(sink));
    if (clock == nullptr || !GST_CLOCK_TIME_IS_VALID(running)) {
        if (clock != nullptr) gst_object_unref(clock);
        return 0;
    }
    const auto clock_now = static_cast<std::int64_t>(gst_clock_get_time(clock));
    gst_object_unref(clock);
    const auto on_clock =
        static_cast<std::int64_t>(running + gst_element_get_base_time(GST_ELEMENT(sink)));
    const std::int64_t capture = on_clock - clock_now + framebus::now_ns();
    return capture > 0 ? capture : 0;
}

gboolean sink_set_caps(GstBaseSink* base, GstCaps* caps) {
    auto* self = GST_FRAMEBUS_SINK(base);
    SinkState& s = *self->state;
    GstVideoInfo info;
    if (!gst_video_info_from_caps(&info, caps)) return FALSE;
    const auto format = framebus::gst::frame_format_of(info);
    if (!format) return FALSE;
    if (!s.writer) {
        framebus::WriterOptions options;
        GST_OBJECT_LOCK(self);
        options.name = s.segment.empty() ? std::string(GST_OBJECT_NAME(self)) : s.segment;
        options.slots = s.slots;
        options.max_readers = s.max_readers;
        options.leases_per_reader = s.leases_per_reader;
        options.mode = s.mode;
        options.reuse_newest = s.reuse_newest;
        GST_OBJECT_UNLOCK(self);
        options.initial_format = *format;
        auto writer = framebus::Writer::create(options);
        if (!writer) {
            GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Could not create framebus segment"),
                              ("%s", writer.error().message.c_str()));
            return FALSE;
        }
        s.writer.emplace(std::move(*writer));
        GST_INFO_OBJECT(self, "publishing into segment '%s'", options.name.c_str());
    }
    s.info = info;
    s.format = *format;
    GST_INFO_OBJECT(self, "frame format %s %ux%u", framebus::to_string(format->pixel_format),
                    format->width, format->height);
    return TRUE;
}

GstFlowReturn sink_render(GstBaseSink* base, GstBuffer* buffer) {
    auto* self = GST_FRAMEBUS_SINK(base);
    SinkState& s = *self->state;
    if (!s.writer) return GST_FLOW_NOT_NEGOTIATED;
    auto slot = s.writer->acquire(s.format);
    if (!slot) {
        if (slot.error().code == framebus::Errc::no_free_slot) {
            GST_OBJECT_LOCK(self);
            ++s.dropped;
            GST_OBJECT_UNLOCK(self);
            GST_DEBUG_OBJECT(self, "no free slot: frame dropped");
            return GST_FLOW_OK;
        }
        GST_ELEMENT_ERROR(self, RESOURCE, WRITE, ("Could not publish a frame"),
                          ("%s", slot.error().message.c_str()));
        return GST_FLOW_ERROR;
    }
    GstVideoFrame frame;
    if (!gst_video_frame_map(&frame, &s.info, buffer, GST_MAP_READ)) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, (nullptr), ("could not map a buffer"));
        return GST_FLOW_ERROR;
    }
    const framebus::FrameFormat& format = slot->format();
    for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&frame); ++p) {
        const framebus::Plane& plane = format.planes[p];
        const auto* from = static_cast<const std::byte*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, p));
        const auto from_stride = static_cast<std::size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p));
        std::byte* to = slot->data() + plane.offset;
        const auto row = static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_WIDTH(&frame, p)) *
                         static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, p));
        const auto rows = static_cast<std::size_t>(GST_VIDEO_FRAME_COMP_HEIGHT(&frame, p));
        for (std::size_t y = 0; y < rows; ++y)
            std::memcpy(to + y * plane.stride, from + y * from_stride, row);
    }
    gst_video_frame_unmap(&frame);
    slot->commit(capture_ns_of(base, buffer));
    GST_OBJECT_LOCK(self);
    ++s.published;
    GST_OBJECT_UNLOCK(self);
    return GST_FLOW_OK;
}

gboolean sink_event(GstBaseSink* base, GstEvent* event) {
    SinkState& s = state_of(base);
    if (GST_EVENT_TYPE(event) == GST_EVENT_EOS && s.writer) {
        GST_INFO_OBJECT(base, "end of stream");
        s.writer->end_of_stream();
    }
    return GST_BASE_SINK_CLASS(gst_framebus_sink_parent_class)->event(base, event);
}

gboolean sink_start(GstBaseSink* base) {
    SinkState& s = state_of(base);
    GST_OBJECT_LOCK(base);
    s.published = 0;
    s.dropped = 0;
    GST_OBJECT_UNLOCK(base);
    return TRUE;
}

gboolean sink_stop(GstBaseSink* base) {
    state_of(base).writer.reset();  // end of stream, and the name is unlinked
    return TRUE;
}

gboolean sink_propose_allocation(GstBaseSink*, GstQuery* query) {
    // Strided frames are fine: they are copied plane by plane anyway.
    gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, nullptr);
    return TRUE;
}

void sink_set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
    SinkState& s = state_of(object);
    GST_OBJECT_LOCK(object);
    switch (id) {
        case PROP_SEGMENT: {
            const gchar* text = g_value_get_string(value);
            s.segment = text != nullptr ? text : "";
            break;
        }
        case PROP_SLOTS:
            s.slots = g_value_get_uint(value);
            break;
        case PROP_MAX_READERS:
            s.max_readers = g_value_get_uint(value);
            break;
        case PROP_LEASES_PER_READER:
            s.leases_per_reader = g_value_get_uint(value);
            break;
        case PROP_MODE:
            s.mode = g_value_get_uint(value);
            break;
        case PROP_REUSE_NEWEST:
            s.reuse_newest = g_value_get_boolean(value) != FALSE;
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
    GST_OBJECT_UNLOCK(object);
}

void sink_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
    SinkState& s = state_of(object);
    GST_OBJECT_LOCK(object);
    switch (id) {
        case PROP_SEGMENT:
            g_value_set_string(value, s.segment.empty() ? nullptr : s.segment.c_str());
            break;
        case PROP_SLOTS:
            g_value_set_uint(value, s.slots);
            break;
        case PROP_MAX_READERS:
            g_value_set_uint(value, s.max_readers);
            break;
        case PROP_LEASES_PER_READER:
            g_value_set_uint(value, s.leases_per_reader);
            break;
        case PROP_MODE:
            g_value_set_uint(value, s.mode);
            break;
        case PROP_REUSE_NEWEST:
            g_value_set_boolean(value, s.reuse_newest ? TRUE : FALSE);
            break;
        case PROP_PUBLISHED:
            g_value_set_uint64(value, s.published);
            break;
        case PROP_DROPPED:
            g_value_set_uint64(value, s.dropped);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
    GST_OBJECT_UNLOCK(object);
}

void sink_finalize(GObject* object) {
    delete GST_FRAMEBUS_SINK(object)->state;
    G_OBJECT_CLASS(gst_framebus_sink_parent_class)->finalize(object);
}

}  // namespace

static void gst_framebus_sink_init(GstFramebusSink* self) {
    self->state = new SinkState;
}

static void gst_framebus_sink_class_init(GstFramebusSinkClass* klass) {
    GST_DEBUG_CATEGORY_INIT(framebus_sink_debug, "framebussink", 0, "framebus sink");
    auto* object_class = G_OBJECT_CLASS(klass);
    auto* element_class = GST_ELEMENT_CLASS(klass);
    auto* base_class = GST_BASE_SINK_CLASS(klass);

    object_class->set_property = sink_set_property;
    object_class->get_property = sink_get_property;
    object_class->finalize = sink_finalize;
    constexpr auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                 GST_PARAM_MUTABLE_READY);
    constexpr auto ro = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_property(
        object_class, PROP_SEGMENT,
        g_param_spec_string("segment", "Segment",
                            "framebus segment name to publish (default: the element's own name, "
                            "so 'framebussink name=cam0' publishes cam0)",
                            nullptr, rw));
    g_object_class_install_property(
        object_class, PROP_SLOTS,
        g_param_spec_uint("slots", "Slots",
                          "Frames in the ring (0: max-readers * leases-per-reader + 2, the count "
                          "that never drops)",
                          0, 255, 0, rw));
    g_object_class_install_property(
        object_class, PROP_MAX_READERS,
        g_param_spec_uint("max-readers", "Max readers", "Readers that may attach at once", 1, 64, 8,
                          rw));
    g_object_class_install_property(
        object_class, PROP_LEASES_PER_READER,
        g_param_spec_uint("leases-per-reader", "Leases per reader",
                          "Frames one reader may hold at once", 1, 16, 2, rw));
    g_object_class_install_property(
        object_class, PROP_MODE,
        g_param_spec_uint("mode", "Mode", "Permission bits of the segment (e.g. 0600, 0660)", 0,
                          0777, 0600, rw));
    g_object_class_install_property(
        object_class, PROP_REUSE_NEWEST,
        g_param_spec_boolean("reuse-newest", "Reuse newest",
                             "Write over the newest frame once every reader has it (one slot stays "
                             "hot while readers keep up; latest() finds nothing while it is "
                             "rewritten)",
                             FALSE, rw));
    g_object_class_install_property(
        object_class, PROP_PUBLISHED,
        g_param_spec_uint64("published", "Published", "Frames published", 0, G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        object_class, PROP_DROPPED,
        g_param_spec_uint64("dropped", "Dropped", "Frames dropped: no free slot", 0, G_MAXUINT64, 0,
                            ro));

    gst_element_class_set_static_metadata(element_class, "framebus sink", "Sink/Video",
                                          "Publishes frames into a framebus shared-memory segment",
                                          "framebus");
    GstCaps* caps = framebus::gst::template_caps();
    gst_element_class_add_pad_template(
        element_class, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
    gst_caps_unref(caps);

    base_class->start = sink_start;
    base_class->stop = sink_stop;
    base_class->set_caps = sink_set_caps;
    base_class->render = sink_render;
    base_class->event = sink_event;
    base_class->propose_allocation = sink_propose_allocation;
}
