// The libav source: demux, decode (send packet / receive frame, draining at
// the end, as FFmpeg's doc/examples/demux_decode.c), then one pass from the
// decoder's frame into the slot. Hardware decoding as doc/examples/hw_decode.c,
// with a software fallback.
#include "libav_source.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <chrono>
#include <cstring>

#include "framebus/frame.hpp"

namespace framebus::writer {

namespace {

// A stream that delivers nothing for this long is stalled (live sources
// reconnect, as with OpenCV).
constexpr auto kStreamTimeout = std::chrono::seconds(5);
constexpr auto kStreamOpenTimeout = std::chrono::seconds(10);

struct FormatContextFree {
    void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecContextFree {
    void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
    void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct BufferUnref {
    void operator()(AVBufferRef* b) const { av_buffer_unref(&b); }
};
struct SwsFree {
    void operator()(SwsContext* c) const { sws_freeContext(c); }
};

std::string av_error_text(int error) {
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(error, text, sizeof text);
    return text;
}

// The bus's format for libav's, where the bytes are laid out identically.
// Full-range (JPEG) 4:2:0 is I420 too: published as is, since converting
// its range (sws_scale's general path) adds ~70 % to decoding it; the bus
// has no range field yet, so readers show it with BT.601 limited-range
// coefficients (a little more contrast).
PixelFormat bus_format_of(AVPixelFormat format) {
    switch (format) {
        case AV_PIX_FMT_YUV420P:
        case AV_PIX_FMT_YUVJ420P:
            return PixelFormat::i420;
        case AV_PIX_FMT_NV12:
            return PixelFormat::nv12;
        case AV_PIX_FMT_YUYV422:
            return PixelFormat::yuyv;
        case AV_PIX_FMT_GRAY8:
            return PixelFormat::gray8;
        case AV_PIX_FMT_GRAY16LE:
            return PixelFormat::gray16;
        case AV_PIX_FMT_BGR24:
            return PixelFormat::bgr24;
        case AV_PIX_FMT_RGB24:
            return PixelFormat::rgb24;
        case AV_PIX_FMT_BGRA:
            return PixelFormat::bgra32;
        case AV_PIX_FMT_RGBA:
            return PixelFormat::rgba32;
        default:
            return PixelFormat::unknown;
    }
}

AVPixelFormat av_format_of(PixelFormat format) {
    switch (format) {
        case PixelFormat::i420:
            return AV_PIX_FMT_YUV420P;
        case PixelFormat::nv12:
            return AV_PIX_FMT_NV12;
        case PixelFormat::yuyv:
            return AV_PIX_FMT_YUYV422;
        case PixelFormat::gray8:
            return AV_PIX_FMT_GRAY8;
        case PixelFormat::gray16:
            return AV_PIX_FMT_GRAY16LE;
        case PixelFormat::bgr24:
            return AV_PIX_FMT_BGR24;
        case PixelFormat::rgb24:
            return AV_PIX_FMT_RGB24;
        case PixelFormat::bgra32:
            return AV_PIX_FMT_BGRA;
        case PixelFormat::rgba32:
            return AV_PIX_FMT_RGBA;
        case PixelFormat::unknown:
            break;
    }
    return AV_PIX_FMT_NONE;
}

// What --format native publishes a decoder's format as: the same bytes where
// the bus has the format; otherwise the nearest bus format (deeper 4:2:0
// becomes I420, 4:2:2 becomes YUYV, the rest BGR), converted by sws_scale
// into the slot.
PixelFormat native_format_of(AVPixelFormat format) {
    if (const PixelFormat same = bus_format_of(format); same != PixelFormat::unknown) return same;
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
    if (desc == nullptr || (desc->flags & AV_PIX_FMT_FLAG_RGB) != 0 || desc->nb_components < 3)
        return PixelFormat::bgr24;
    if (desc->log2_chroma_w == 1 && desc->log2_chroma_h == 1) return PixelFormat::i420;
    if (desc->log2_chroma_w == 1 && desc->log2_chroma_h == 0) return PixelFormat::yuyv;
    return PixelFormat::bgr24;
}

bool is_live(SourceType type) {
    return type == SourceType::url || type == SourceType::camera;
}

// Interrupts blocking I/O of a stalled live source (libav polls this).
struct IoDeadline {
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    static int expired(void* opaque) {
        return std::chrono::steady_clock::now() > static_cast<IoDeadline*>(opaque)->deadline ? 1
                                                                                             : 0;
    }
};

AVPixelFormat pick_vaapi(AVCodecContext*, const AVPixelFormat* formats) {
    for (const AVPixelFormat* f = formats; *f != AV_PIX_FMT_NONE; ++f)
        if (*f == AV_PIX_FMT_VAAPI) return *f;
    return formats[0];  // the software format: the decoder falls back
}

class LibavSource final : public FrameSource {
  public:
    LibavSource(SourceType type, std::string spec, const Options& options)
        : type_(type),
          spec_(std::move(spec)),
          options_(options),
          description_(std::string(to_string(type)) + " '" + spec_ + "'") {}

    // Opens the input and its decoder; on failure, the reason.
    std::string open(std::string* hwaccel_note) {
        close();
        AVFormatContext* raw = avformat_alloc_context();
        if (raw == nullptr) return "out of memory";
        raw->interrupt_callback = {&IoDeadline::expired, &deadline_};
        AVDictionary* demuxer_options = nullptr;
        if (live()) {
            // Low latency: probe little; reconnecting is ours. Not "fflags
            // nobuffer": it drops the packets read while probing, i.e. the
            // stream's first frames.
            av_dict_set(&demuxer_options, "probesize", "500000", 0);
            av_dict_set(&demuxer_options, "analyzeduration", "500000", 0);
            av_dict_set(&demuxer_options, "rtsp_transport", "tcp", 0);
        }
        arm_deadline(kStreamOpenTimeout);
        const int opened = avformat_open_input(&raw, spec_.c_str(), nullptr, &demuxer_options);
        av_dict_free(&demuxer_options);
        if (opened < 0) return av_error_text(opened);  // avformat_open_input freed `raw`
        input_.reset(raw);
        if (const int err = avformat_find_stream_info(raw, nullptr); err < 0)
            return av_error_text(err);
        const AVCodec* codec = nullptr;
        stream_ = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
        if (stream_ < 0 || codec == nullptr) return "no video stream that libav can decode";
        const AVStream* stream = raw->streams[stream_];
        decoder_.reset(avcodec_alloc_context3(codec));
        if (!decoder_) return "out of memory";
        if (avcodec_parameters_to_context(decoder_.get(), stream->codecpar) < 0)
            return "bad codec parameters";
        // Files: frame and slice threads (throughput). Live sources: slice
        // threads only, since frame threads hold threads-1 frames back.
        decoder_->thread_count = options_.decoder_threads;  // 0: one per core
        decoder_->thread_type = live() ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE;
        if (options_.thread_type == ThreadType::slice) decoder_->thread_type = FF_THREAD_SLICE;
        if (options_.thread_type == ThreadType::frame) decoder_->thread_type = FF_THREAD_FRAME;
        if (live()) decoder_->flags |= AV_CODEC_FLAG_LOW_DELAY;
        if (options_.hwaccel != Hwaccel::none) setup_hwaccel(hwaccel_note);
        if (const int err = avcodec_open2(decoder_.get(), codec, nullptr); err < 0)
            return av_error_text(err);
        frame_.reset(av_frame_alloc());
        downloaded_.reset(av_frame_alloc());
        packet_.reset(av_packet_alloc());
        if (!frame_ || !downloaded_ || !packet_) return "out of memory";
        codec_name_ = codec->name;
        description_ = std::string(to_string(type_)) + " '" + spec_ + "' (libav " + codec_name_ +
                       (hw_device_ ? ", vaapi)" : ")");
        announced_ =
            live() || stream->nb_frames <= 0 ? 0 : static_cast<std::uint64_t>(stream->nb_frames);
        decoded_ = 0;
        draining_ = false;
        current_ = nullptr;
        return {};
    }

    const std::string& description() const override { return description_; }

    Grab grab() override {
        current_ = nullptr;
        if (!decoder_) return live() ? Grab::failed : Grab::end;  // suspended or failed to reopen
        for (;;) {
            const int got = avcodec_receive_frame(decoder_.get(), frame_.get());
            if (got == 0) {
                // A frame the decoder marks damaged is not published, only
                // counted, as a packet that does not decode at all.
                if ((frame_->flags & AV_FRAME_FLAG_CORRUPT) != 0 ||
                    frame_->decode_error_flags != 0) {
                    ++damaged_;
                    continue;
                }
                if (!take_frame()) continue;
                ++decoded_;
                return Grab::frame;
            }
            if (got == AVERROR_EOF) return at_end();
            if (got != AVERROR(EAGAIN)) {
                ++damaged_;  // decoded past: the next packet may be whole
                if (draining_) return at_end();
                continue;
            }
            if (draining_) return at_end();
            // The decoder wants input.
            arm_deadline(kStreamTimeout);
            const int read = av_read_frame(input_.get(), packet_.get());
            if (read < 0) {
                // End of file, or a stream that broke off: the decoder still
                // holds frames; drain them first (at_end() then says which).
                draining_ = true;
                avcodec_send_packet(decoder_.get(), nullptr);  // flush what it holds
                continue;
            }
            if (packet_->stream_index == stream_) {
                if ((packet_->flags & AV_PKT_FLAG_CORRUPT) != 0) ++damaged_;
                // Live sources: the frame was captured no later than its packet
                // arrived (not when it left the decoder); the decoder hands
                // this value back on the frame that packet becomes.
                if (live()) decoder_->reordered_opaque = now_ns();
                if (avcodec_send_packet(decoder_.get(), packet_.get()) < 0) ++damaged_;
            }
            av_packet_unref(packet_.get());
        }
    }

    SourceShape expected_shape() const override {
        SourceShape shape;
        if (current_ != nullptr) {
            shape.width = current_->width;
            shape.height = current_->height;
            shape.pixel_format = native_format_of(static_cast<AVPixelFormat>(current_->format));
        } else if (decoder_) {
            shape.width = decoder_->width;
            shape.height = decoder_->height;
            shape.pixel_format = native_format_of(
                decoder_->pix_fmt == AV_PIX_FMT_VAAPI ? AV_PIX_FMT_NV12 : decoder_->pix_fmt);
        }
        // Odd sides cannot be subsampled: publish those as BGR.
        if (format_info(shape.pixel_format).size_multiple > 1 &&
            ((shape.width | shape.height) & 1) != 0)
            shape.pixel_format = PixelFormat::bgr24;
        shape.cv_type = cv_type_of(shape.pixel_format);
        return shape;
    }

    // Never asked: the publisher hands this source the slot (write_into).
    bool retrieve(cv::Mat& /*into*/, std::uint64_t /*sequence*/) override { return false; }

    bool writes_slots() const override { return true; }

    bool write_into(std::byte* slot, const FrameFormat& to, std::uint64_t /*sequence*/) override {
        if (current_ == nullptr) return false;
        const AVFrame& from = *current_;
        const auto from_format = static_cast<AVPixelFormat>(from.format);
        const bool same_size =
            static_cast<int>(to.width) == from.width && static_cast<int>(to.height) == from.height;
        if (same_size && bus_format_of(from_format) == to.pixel_format) {
            // The decoder's own planes, as they are: one copy, no conversion.
            for (std::uint32_t p = 0; p < to.plane_count; ++p)
                av_image_copy_plane(reinterpret_cast<std::uint8_t*>(slot + to.planes[p].offset),
                                    static_cast<int>(to.planes[p].stride), from.data[p],
                                    from.linesize[p], static_cast<int>(to.plane_row_bytes(p)),
                                    static_cast<int>(to.plane_rows(p)));
            return true;
        }
        // sws_scale writes the slot's planes directly.
        const AVPixelFormat to_format = av_format_of(to.pixel_format);
        scaler_.reset(sws_getCachedContext(scaler_.release(), from.width, from.height, from_format,
                                           static_cast<int>(to.width), static_cast<int>(to.height),
                                           to_format, SWS_BICUBIC, nullptr, nullptr, nullptr));
        if (!scaler_) return false;
        std::uint8_t* planes[4] = {};
        int strides[4] = {};
        for (std::uint32_t p = 0; p < to.plane_count; ++p) {
            planes[p] = reinterpret_cast<std::uint8_t*>(slot + to.planes[p].offset);
            strides[p] = static_cast<int>(to.planes[p].stride);
        }
        sws_scale(scaler_.get(), from.data, from.linesize, 0, from.height, planes, strides);
        return true;
    }

    double frame_rate() const override {
        if (live() || !input_) return 0;
        const AVRational rate = input_->streams[stream_]->avg_frame_rate;
        const double fps = rate.den > 0 ? av_q2d(rate) : 0;
        return (fps > 0 && fps < 10000) ? fps : 0;
    }

    bool live() const override { return is_live(type_); }

    bool restart() override { return open(nullptr).empty(); }
    void suspend() override { close(); }

    std::uint64_t decode_errors() const override {
        return std::max(damaged_, missing_);  // counted once, whichever way it showed
    }
    std::uint64_t zero_copy_misses() const override { return misses_; }

    std::int64_t capture_ns() const override { return current_ != nullptr ? captured_ns_ : 0; }

    [[nodiscard]] const std::string& codec_name() const { return codec_name_; }
    [[nodiscard]] bool hardware() const { return hw_device_ != nullptr; }

  private:
    void close() {
        current_ = nullptr;
        scaler_.reset();
        packet_.reset();
        downloaded_.reset();
        frame_.reset();
        decoder_.reset();
        input_.reset();
        hw_device_.reset();
    }

    void arm_deadline(std::chrono::seconds timeout) {
        deadline_.deadline = live() ? std::chrono::steady_clock::now() + timeout
                                    : std::chrono::steady_clock::time_point::max();
    }

    void setup_hwaccel(std::string* note) {
        AVBufferRef* device = nullptr;
        const int err =
            av_hwdevice_ctx_create(&device, AV_HWDEVICE_TYPE_VAAPI, nullptr, nullptr, 0);
        if (err < 0) {
            if (note != nullptr)
                *note = "hardware decoding (vaapi) is not available (" + av_error_text(err) +
                        "): decoding in software";
            return;
        }
        hw_device_.reset(device);
        decoder_->hw_device_ctx = av_buffer_ref(device);
        decoder_->get_format = pick_vaapi;
    }

    // Makes frame_ (or its download from the GPU) the current frame.
    bool take_frame() {
        if (live()) {
            // The receive time of the frame's packet. Frames leave the decoder
            // in display order, which may put a packet received later (a
            // B-frame's) first: the stamps stay monotonic.
            const std::int64_t received = frame_->reordered_opaque;
            captured_ns_ = std::max(received > 0 ? received : now_ns(), captured_ns_);
        }
        if (frame_->format == AV_PIX_FMT_VAAPI) {
            // Hardware frames come down as NV12 into a buffer of libav's:
            // an extra copy before the slot, counted.
            av_frame_unref(downloaded_.get());
            if (av_hwframe_transfer_data(downloaded_.get(), frame_.get(), 0) < 0) {
                ++damaged_;
                return false;
            }
            ++misses_;
            current_ = downloaded_.get();
            return true;
        }
        current_ = frame_.get();
        return true;
    }

    Grab at_end() {
        if (announced_ > decoded_) missing_ = std::max(missing_, announced_ - decoded_);
        return live() ? Grab::failed : Grab::end;
    }

    SourceType type_;
    std::string spec_;
    Options options_;
    std::string description_;
    std::string codec_name_;
    IoDeadline deadline_;
    std::unique_ptr<AVFormatContext, FormatContextFree> input_;
    std::unique_ptr<AVCodecContext, CodecContextFree> decoder_;
    std::unique_ptr<AVBufferRef, BufferUnref> hw_device_;
    std::unique_ptr<AVFrame, FrameFree> frame_;
    std::unique_ptr<AVFrame, FrameFree> downloaded_;
    std::unique_ptr<AVPacket, PacketFree> packet_;
    std::unique_ptr<SwsContext, SwsFree> scaler_;
    const AVFrame* current_ = nullptr;  // the grabbed frame
    std::int64_t captured_ns_ = 0;      // live: its packet's receive time; 0 for files
    int stream_ = -1;
    bool draining_ = false;
    std::uint64_t announced_ = 0;  // frames the container announced (files); 0: unknown
    std::uint64_t decoded_ = 0;    // since the last (re)open
    std::uint64_t damaged_ = 0;    // packets or frames the decoder reported damaged
    std::uint64_t missing_ = 0;    // announced frames that never came out
    std::uint64_t misses_ = 0;
};

}  // namespace

Result<std::unique_ptr<FrameSource>> open_libav_source(const Options& options, SourceType type,
                                                       std::string& hwaccel_note) {
    av_log_set_level(AV_LOG_QUIET);  // the program speaks for itself
    auto source = std::make_unique<LibavSource>(type, options.source, options);
    if (const std::string reason = source->open(&hwaccel_note); !reason.empty())
        return Error{type == SourceType::url ? Errc::not_found : Errc::invalid_argument,
                     "cannot open " + std::string(to_string(type)) + " '" + options.source +
                         "' with libav: " + reason};
    return std::unique_ptr<FrameSource>(std::move(source));
}

}  // namespace framebus::writer
