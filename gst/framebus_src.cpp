// framebussrc. Modelled on gst-plugins-bad's unixfdsrc and shmsrc: a live
// GstPushSrc whose buffers wrap shared memory read-only and give it back in
// the memory's free callback (shared_reader.hpp holds that lifetime link).
#include "framebus_src.hpp"

#include <gst/video/video.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "framebus/reader.hpp"
#include "shared_reader.hpp"
#include "video_format.hpp"

GST_DEBUG_CATEGORY_STATIC(framebus_src_debug);
#define GST_CAT_DEFAULT framebus_src_debug

namespace {

using namespace std::chrono_literals;
using framebus::gst::SharedReader;

enum class ReadMode { latest = 0, next = 1 };

// How long one Reader::wait() blocks before the source checks for flushing:
// the bound on how late unlock() takes effect (the futex cannot be woken
// from outside the bus).
constexpr auto kWaitSlice = 50ms;
// How often a missing segment is looked for again (follow=true).
constexpr auto kOpenRetry = 200ms;

enum {
    PROP_0,
    PROP_SEGMENT,
    PROP_MODE,
    PROP_FOLLOW,
    PROP_IS_LIVE,
    PROP_MAX_LEASES,
    PROP_COPIES,
    PROP_LEASES_HELD,
    PROP_FRAMES,
};

// Everything C++ about the element; GObject memory is zeroed C.
struct SrcState {
    // Properties (under the object lock).
    std::string segment;
    ReadMode mode = ReadMode::latest;
    bool follow = false;
    guint max_leases = 0;  // 0: the reader's cap less one (one is kept for copying)

    // Streaming.
    std::shared_ptr<SharedReader> shared;  // null while following a name not there yet
    std::string opened_name;
    std::mutex flush_mutex;
    std::condition_variable flush_signal;
    bool flushing = false;  // under flush_mutex
    bool have_info = false;
    framebus::FrameFormat format{};
    GstVideoInfo slot_info{};     // the slot's layout
    GstVideoInfo default_info{};  // GStreamer's default layout of the same frame
    bool downstream_videometa = false;
    std::int64_t first_capture_ns = -1;
    std::uint64_t last_sequence = 0;   // of the last frame pushed
    bool followed_since_last = false;  // a new segment counts from 1 again

    std::atomic<std::uint64_t> copies{0};
    std::atomic<std::uint64_t> frames{0};
};

GType read_mode_get_type() {
    static GType type = 0;
    static const GEnumValue values[] = {
        {static_cast<gint>(ReadMode::latest), "The newest frame; frames in between are skipped",
         "latest"},
        {static_cast<gint>(ReadMode::next), "Every frame in order (as long as the ring keeps them)",
         "next"},
        {0, nullptr, nullptr},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstFramebusSrcMode", values));
    return type;
}

}  // namespace

struct _GstFramebusSrc {
    GstPushSrc parent;
    SrcState* state;
};

G_DEFINE_TYPE(GstFramebusSrc, gst_framebus_src, GST_TYPE_PUSH_SRC)

namespace {

SrcState& state_of(gpointer object) {
    return *GST_FRAMEBUS_SRC(object)->state;
}

std::string segment_name(GstFramebusSrc* self) {
    GST_OBJECT_LOCK(self);
    std::string name = self->state->segment;
    if (name.empty()) name = GST_OBJECT_NAME(self);  // framebussrc name=cam0
    GST_OBJECT_UNLOCK(self);
    return name;
}

// True if the segment is open; false with `error` set for a real failure,
// false without one while a followed name is not there yet.
bool open_reader(GstFramebusSrc* self, bool follow, framebus::Error* error) {
    SrcState& s = *self->state;
    framebus::ReaderOptions options;
    options.follow = follow;
    auto reader = framebus::Reader::open(s.opened_name, options);
    if (!reader) {
        if (follow && reader.error().code == framebus::Errc::not_found) return false;
        *error = reader.error();
        return false;
    }
    auto shared = std::make_shared<SharedReader>(std::move(*reader));
    GST_OBJECT_LOCK(self);
    s.shared = std::move(shared);
    GST_OBJECT_UNLOCK(self);
    GST_INFO_OBJECT(self, "reading segment '%s' (up to %u leases per reader)",
                    s.opened_name.c_str(), s.shared->reader().max_leases());
    return true;
}

// Blocks up to `timeout` unless flushing; false when flushing.
bool pause_unless_flushing(SrcState& s, std::chrono::milliseconds timeout) {
    std::unique_lock lock(s.flush_mutex);
    s.flush_signal.wait_for(lock, timeout, [&] { return s.flushing; });
    return !s.flushing;
}

bool is_flushing(SrcState& s) {
    std::lock_guard lock(s.flush_mutex);
    return s.flushing;
}

// Caps of the slot's format; renegotiates downstream (allocation included).
bool negotiate_format(GstFramebusSrc* self, const framebus::FrameFormat& format) {
    SrcState& s = *self->state;
    GstVideoInfo slot_info;
    if (!framebus::gst::video_info_of(format, slot_info)) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("Unsupported frame format"),
                          ("segment '%s': pixel format %s (%ux%u) has no GStreamer equivalent",
                           s.opened_name.c_str(), framebus::to_string(format.pixel_format),
                           format.width, format.height));
        return false;
    }
    GstVideoInfo default_info;
    gst_video_info_set_format(&default_info, GST_VIDEO_INFO_FORMAT(&slot_info), format.width,
                              format.height);
    GST_OBJECT_LOCK(self);
    s.slot_info = slot_info;
    s.default_info = default_info;
    s.format = format;
    s.have_info = true;
    GST_OBJECT_UNLOCK(self);
    GST_INFO_OBJECT(self, "frame format %s %ux%u", framebus::to_string(format.pixel_format),
                    format.width, format.height);
    if (!gst_base_src_negotiate(GST_BASE_SRC(self))) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, (nullptr),
                          ("downstream refused %s %ux%u", framebus::to_string(format.pixel_format),
                           format.width, format.height));
        return false;
    }
    return true;
}

GstClockTime running_time_of(GstFramebusSrc* self, std::int64_t capture_ns) {
    SrcState& s = *self->state;
    if (!gst_base_src_is_live(GST_BASE_SRC(self))) {
        if (s.first_capture_ns < 0) s.first_capture_ns = capture_ns;
        return capture_ns > s.first_capture_ns
                   ? static_cast<GstClockTime>(capture_ns - s.first_capture_ns)
                   : 0;
    }
    GstClock* clock = gst_element_get_clock(GST_ELEMENT(self));
    if (clock == nullptr) return GST_CLOCK_TIME_NONE;
    // Capture time is CLOCK_MONOTONIC; the pipeline clock may be any clock.
    const GstClockTime clock_now = gst_clock_get_time(clock);
    const std::int64_t monotonic_now = framebus::now_ns();
    gst_object_unref(clock);
    const GstClockTime base = gst_element_get_base_time(GST_ELEMENT(self));
    const std::int64_t capture_on_clock =
        capture_ns + (static_cast<std::int64_t>(clock_now) - monotonic_now);
    return capture_on_clock > static_cast<std::int64_t>(base)
               ? static_cast<GstClockTime>(capture_on_clock) - base
               : 0;
}

// The buffer for a leased frame (reader lock held): wraps the slot while the
// element holds fewer leases than its cap, else copies.
GstBuffer* buffer_of(GstFramebusSrc* self, framebus::Lease lease) {
    SrcState& s = *self->state;
    SharedReader& shared = *s.shared;
    GST_OBJECT_LOCK(self);
    const guint max_leases_property = s.max_leases;
    const bool videometa = s.downstream_videometa;
    const GstVideoInfo slot_info = s.slot_info;
    const GstVideoInfo default_info = s.default_info;
    GST_OBJECT_UNLOCK(self);

    const std::uint32_t reader_cap = shared.reader().max_leases();
    // One of the reader's leases stays free, so a frame can always be copied.
    std::uint32_t cap = reader_cap > 0 ? reader_cap - 1 : 0;
    if (max_leases_property != 0 && max_leases_property < cap) cap = max_leases_property;
    if (cap > framebus::gst::kMaxLentLeases) cap = framebus::gst::kMaxLentLeases;
    const bool layout_ok = videometa || framebus::gst::same_layout(slot_info, default_info);

    GstBuffer* buffer = gst_buffer_new();
    if (shared.lent() < cap && layout_ok) {
        const auto bytes = static_cast<std::size_t>(lease.format().bytes());
        gst_buffer_append_memory(buffer, shared.lend(std::move(lease), bytes));
        gst_buffer_add_video_meta_full(
            buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&slot_info),
            GST_VIDEO_INFO_WIDTH(&slot_info), GST_VIDEO_INFO_HEIGHT(&slot_info),
            GST_VIDEO_INFO_N_PLANES(&slot_info), const_cast<gsize*>(slot_info.offset),
            const_cast<gint*>(slot_info.stride));
    } else {
        gst_buffer_append_memory(buffer, gst_allocator_alloc(nullptr, default_info.size, nullptr));
        GstVideoFrame frame;
        if (gst_video_frame_map(&frame, &default_info, buffer, GST_MAP_WRITE)) {
            framebus::gst::copy_planes(lease.data(), slot_info, frame);
            gst_video_frame_unmap(&frame);
        }
        gst_buffer_add_video_meta_full(
            buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&default_info),
            GST_VIDEO_INFO_WIDTH(&default_info), GST_VIDEO_INFO_HEIGHT(&default_info),
            GST_VIDEO_INFO_N_PLANES(&default_info), const_cast<gsize*>(default_info.offset),
            const_cast<gint*>(default_info.stride));
        const auto copies = s.copies.fetch_add(1) + 1;
        GST_DEBUG_OBJECT(
            self, "frame %" G_GUINT64_FORMAT " copied (%s; %" G_GUINT64_FORMAT " copies so far)",
            lease.sequence(),
            layout_ok ? "lease cap reached" : "downstream needs the default layout", copies);
        lease.release();
    }
    return buffer;
}

// --- GstBaseSrc / GstPushSrc virtual methods ---

gboolean src_start(GstBaseSrc* base) {
    auto* self = GST_FRAMEBUS_SRC(base);
    SrcState& s = *self->state;
    s.opened_name = segment_name(self);
    GST_OBJECT_LOCK(self);
    const bool follow = s.follow;
    GST_OBJECT_UNLOCK(self);
    s.have_info = false;
    s.first_capture_ns = -1;
    s.last_sequence = 0;
    s.followed_since_last = false;
    framebus::Error error{framebus::Errc::not_found, {}};
    if (!open_reader(self, follow, &error) && !follow) {
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Could not open framebus segment"),
                          ("%s", error.message.c_str()));
        return FALSE;
    }
    return TRUE;
}

gboolean src_stop(GstBaseSrc* base) {
    SrcState& s = state_of(base);
    if (s.shared) {
        auto lock = s.shared->lock();
        s.shared->release_pending();
    }
    // Buffers still out keep the reader alive (and release into it).
    std::shared_ptr<SharedReader> last;
    GST_OBJECT_LOCK(base);
    last = std::move(s.shared);
    GST_OBJECT_UNLOCK(base);
    s.have_info = false;
    return TRUE;
}

gboolean src_unlock(GstBaseSrc* base) {
    SrcState& s = state_of(base);
    std::lock_guard lock(s.flush_mutex);
    s.flushing = true;
    s.flush_signal.notify_all();
    return TRUE;
}

gboolean src_unlock_stop(GstBaseSrc* base) {
    SrcState& s = state_of(base);
    std::lock_guard lock(s.flush_mutex);
    s.flushing = false;
    return TRUE;
}

GstCaps* src_get_caps(GstBaseSrc* base, GstCaps* filter) {
    auto* self = GST_FRAMEBUS_SRC(base);
    SrcState& s = *self->state;
    GST_OBJECT_LOCK(self);
    GstCaps* caps =
        s.have_info ? gst_video_info_to_caps(&s.slot_info) : framebus::gst::template_caps();
    GST_OBJECT_UNLOCK(self);
    if (filter != nullptr) {
        GstCaps* both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(caps);
        caps = both;
    }
    return caps;
}

// Caps come from the first frame: until then there is nothing to negotiate.
gboolean src_negotiate(GstBaseSrc* base) {
    if (!state_of(base).have_info) return TRUE;
    return GST_BASE_SRC_CLASS(gst_framebus_src_parent_class)->negotiate(base);
}

gboolean src_decide_allocation(GstBaseSrc* base, GstQuery* query) {
    const bool videometa = gst_query_find_allocation_meta(query, GST_VIDEO_META_API_TYPE, nullptr);
    GST_OBJECT_LOCK(base);
    state_of(base).downstream_videometa = videometa;
    GST_OBJECT_UNLOCK(base);
    GST_DEBUG_OBJECT(base, "downstream %s GstVideoMeta", videometa ? "takes" : "does not take");
    return GST_BASE_SRC_CLASS(gst_framebus_src_parent_class)->decide_allocation(base, query);
}

GstFlowReturn src_create(GstPushSrc* push, GstBuffer** out) {
    auto* self = GST_FRAMEBUS_SRC(push);
    SrcState& s = *self->state;
    GST_OBJECT_LOCK(self);
    const ReadMode mode = s.mode;
    const bool follow = s.follow;
    GST_OBJECT_UNLOCK(self);

    for (;;) {
        if (is_flushing(s)) return GST_FLOW_FLUSHING;
        if (!s.shared) {
            framebus::Error error{framebus::Errc::not_found, {}};
            if (open_reader(self, follow, &error)) continue;
            if (!follow) {
                GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Could not open framebus segment"),
                                  ("%s", error.message.c_str()));
                return GST_FLOW_ERROR;
            }
            if (!pause_unless_flushing(s, kOpenRetry)) return GST_FLOW_FLUSHING;
            continue;
        }
        SharedReader& shared = *s.shared;
        auto lock = shared.lock();
        shared.release_pending();
        auto leased = mode == ReadMode::latest ? shared.reader().latest() : shared.reader().next();
        // latest() leases the newest frame even if it was the last one sent.
        if (leased && leased->sequence() == s.last_sequence && !s.followed_since_last) {
            leased->release();
            leased = framebus::Error{framebus::Errc::no_frame, {}};
        }
        if (leased) {
            framebus::Lease lease = std::move(*leased);
            const framebus::FrameInfo info = lease.info();
            if (!s.have_info || info.format != s.format) {
                // Negotiation calls into downstream, which may free our buffers.
                lock.unlock();
                if (!negotiate_format(self, info.format)) {
                    lock.lock();
                    lease.release();
                    return GST_FLOW_NOT_NEGOTIATED;
                }
                lock.lock();
            }
            s.last_sequence = info.sequence;
            s.followed_since_last = false;
            GstBuffer* buffer = buffer_of(self, std::move(lease));
            lock.unlock();
            s.frames.fetch_add(1);
            GST_BUFFER_PTS(buffer) = running_time_of(self, info.capture_ns);
            GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
            GST_BUFFER_OFFSET(buffer) = info.sequence;
            GST_BUFFER_OFFSET_END(buffer) = info.sequence + 1;
            *out = buffer;
            return GST_FLOW_OK;
        }
        const framebus::Errc code = leased.error().code;
        if (code != framebus::Errc::no_frame && code != framebus::Errc::lease_held) {
            GST_ELEMENT_ERROR(self, RESOURCE, READ, ("Could not lease a frame"),
                              ("%s", leased.error().message.c_str()));
            return GST_FLOW_ERROR;
        }
        const framebus::WaitStatus status = shared.wait(kWaitSlice);
        switch (status) {
            case framebus::WaitStatus::frame:
            case framebus::WaitStatus::timed_out:
                break;
            case framebus::WaitStatus::end_of_stream:
            case framebus::WaitStatus::writer_gone:
                if (follow) break;  // the reader looks for the next writer
                GST_INFO_OBJECT(self, "segment '%s': %s", s.opened_name.c_str(),
                                framebus::to_string(status));
                return GST_FLOW_EOS;
            case framebus::WaitStatus::followed:
                s.followed_since_last = true;
                GST_INFO_OBJECT(self, "segment '%s': followed to a new segment",
                                s.opened_name.c_str());
                break;
            case framebus::WaitStatus::replaced: {
                // The same writer made a bigger segment (a shape change): not a
                // restart, so even without follow=true the stream goes on. Buffers
                // still out keep the old segment until they are freed.
                auto switched = shared.reader().follow();
                if (!switched) {
                    GST_INFO_OBJECT(self, "segment '%s' replaced and gone: %s",
                                    s.opened_name.c_str(), switched.error().message.c_str());
                    return GST_FLOW_EOS;
                }
                if (*switched) s.followed_since_last = true;
                break;
            }
        }
    }
}

// --- GObject ---

void src_set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
    auto* self = GST_FRAMEBUS_SRC(object);
    SrcState& s = *self->state;
    if (id == PROP_IS_LIVE) {
        gst_base_src_set_live(GST_BASE_SRC(self), g_value_get_boolean(value));
        return;
    }
    GST_OBJECT_LOCK(self);
    switch (id) {
        case PROP_SEGMENT: {
            const gchar* text = g_value_get_string(value);
            s.segment = text != nullptr ? text : "";
            break;
        }
        case PROP_MODE:
            s.mode = static_cast<ReadMode>(g_value_get_enum(value));
            break;
        case PROP_FOLLOW:
            s.follow = g_value_get_boolean(value);
            break;
        case PROP_MAX_LEASES:
            s.max_leases = g_value_get_uint(value);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
    GST_OBJECT_UNLOCK(self);
}

void src_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
    auto* self = GST_FRAMEBUS_SRC(object);
    SrcState& s = *self->state;
    if (id == PROP_IS_LIVE) {
        g_value_set_boolean(value, gst_base_src_is_live(GST_BASE_SRC(self)));
        return;
    }
    GST_OBJECT_LOCK(self);
    switch (id) {
        case PROP_SEGMENT:
            g_value_set_string(value, s.segment.empty() ? nullptr : s.segment.c_str());
            break;
        case PROP_MODE:
            g_value_set_enum(value, static_cast<gint>(s.mode));
            break;
        case PROP_FOLLOW:
            g_value_set_boolean(value, s.follow);
            break;
        case PROP_MAX_LEASES:
            g_value_set_uint(value, s.max_leases);
            break;
        case PROP_COPIES:
            g_value_set_uint64(value, s.copies.load());
            break;
        case PROP_LEASES_HELD: {
            std::shared_ptr<SharedReader> shared = s.shared;
            GST_OBJECT_UNLOCK(self);
            guint held = 0;
            if (shared) {
                auto lock = shared->lock();
                held = shared->lent();
            }
            g_value_set_uint(value, held);
            return;
        }
        case PROP_FRAMES:
            g_value_set_uint64(value, s.frames.load());
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
    GST_OBJECT_UNLOCK(self);
}

void src_finalize(GObject* object) {
    delete GST_FRAMEBUS_SRC(object)->state;
    G_OBJECT_CLASS(gst_framebus_src_parent_class)->finalize(object);
}

}  // namespace

static void gst_framebus_src_init(GstFramebusSrc* self) {
    self->state = new SrcState;
    gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
    gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
}

static void gst_framebus_src_class_init(GstFramebusSrcClass* klass) {
    GST_DEBUG_CATEGORY_INIT(framebus_src_debug, "framebussrc", 0, "framebus source");
    auto* object_class = G_OBJECT_CLASS(klass);
    auto* element_class = GST_ELEMENT_CLASS(klass);
    auto* base_class = GST_BASE_SRC_CLASS(klass);
    auto* push_class = GST_PUSH_SRC_CLASS(klass);

    object_class->set_property = src_set_property;
    object_class->get_property = src_get_property;
    object_class->finalize = src_finalize;
    constexpr auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                 GST_PARAM_MUTABLE_READY);
    constexpr auto ro = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_property(
        object_class, PROP_SEGMENT,
        g_param_spec_string("segment", "Segment",
                            "framebus segment name to read (default: the element's own name, so "
                            "'framebussrc name=cam0' reads cam0)",
                            nullptr, rw));
    g_object_class_install_property(
        object_class, PROP_MODE,
        g_param_spec_enum("mode", "Mode", "Which frame to lease next", read_mode_get_type(),
                          static_cast<gint>(ReadMode::latest), rw));
    g_object_class_install_property(
        object_class, PROP_FOLLOW,
        g_param_spec_boolean("follow", "Follow",
                             "Wait for the segment to appear, and follow the name across writer "
                             "restarts and segment replacements (caps renegotiate); false: the "
                             "writer's end of stream or exit is EOS",
                             FALSE, rw));
    g_object_class_install_property(
        object_class, PROP_IS_LIVE,
        g_param_spec_boolean("is-live", "Is live",
                             "Live source: timestamps are the frames' capture times as running "
                             "time (false: capture time since the first frame)",
                             TRUE, rw));
    g_object_class_install_property(
        object_class, PROP_MAX_LEASES,
        g_param_spec_uint("max-leases", "Max leases",
                          "Buffers that may wrap leased slots at once; frames past it are copied "
                          "(0: the segment's leases per reader less one, kept for copying)",
                          0, framebus::gst::kMaxLentLeases, 0, rw));
    g_object_class_install_property(
        object_class, PROP_COPIES,
        g_param_spec_uint64("copies", "Copies",
                            "Frames copied instead of wrapped (lease cap reached, or downstream "
                            "needs GStreamer's default layout)",
                            0, G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        object_class, PROP_LEASES_HELD,
        g_param_spec_uint("leases-held", "Leases held",
                          "Slots wrapped by buffers still alive downstream", 0,
                          framebus::gst::kMaxLentLeases, 0, ro));
    g_object_class_install_property(
        object_class, PROP_FRAMES,
        g_param_spec_uint64("frames", "Frames", "Frames leased so far", 0, G_MAXUINT64, 0, ro));

    gst_element_class_set_static_metadata(
        element_class, "framebus source", "Source/Video",
        "Leases frames from a framebus shared-memory segment, zero-copy", "framebus");
    GstCaps* caps = framebus::gst::template_caps();
    gst_element_class_add_pad_template(
        element_class, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
    gst_caps_unref(caps);

    base_class->start = src_start;
    base_class->stop = src_stop;
    base_class->unlock = src_unlock;
    base_class->unlock_stop = src_unlock_stop;
    base_class->get_caps = src_get_caps;
    base_class->negotiate = src_negotiate;
    base_class->decide_allocation = src_decide_allocation;
    push_class->create = src_create;
    gst_type_mark_as_plugin_api(read_mode_get_type(), static_cast<GstPluginAPIFlags>(0));
}
