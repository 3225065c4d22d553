// Where frames come from: one interface over OpenCV's VideoCapture (files,
// cameras, URLs, GStreamer pipelines, image sequences) and the test pattern.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "framebus/error.hpp"
#include "options.hpp"

namespace framebus::writer {

// A frame's shape as the source produces it; zeros when not known yet.
struct SourceShape {
    int width = 0;
    int height = 0;
    int cv_type = 0;
    PixelFormat pixel_format = PixelFormat::unknown;  // the channel order of those bytes
    friend bool operator==(const SourceShape&, const SourceShape&) = default;
};

// How OpenCV's decoders lay out their types: BGR order (its convention).
[[nodiscard]] PixelFormat opencv_pixel_format(int cv_type);

enum class Grab {
    frame,   // a frame is ready for retrieve()
    end,     // the source has no more frames (end of file)
    failed,  // a live source stopped delivering (reconnect, or give up)
};

class FrameSource {
  public:
    virtual ~FrameSource() = default;

    // What the source is, for messages ("file 'clip.avi'").
    [[nodiscard]] virtual const std::string& description() const = 0;

    // Moves to the next frame; blocks until the source has one.
    [[nodiscard]] virtual Grab grab() = 0;

    // The shape retrieve() will most likely produce: the source's own report
    // before the first frame (callers learn the real one from retrieve()).
    [[nodiscard]] virtual SourceShape expected_shape() const = 0;

    // Decodes (or draws) the grabbed frame into `into`. When `into` already has
    // the frame's size and type, its memory is written in place (zero copy);
    // otherwise OpenCV reallocates it and the caller sees the data pointer move.
    // `sequence` is the number the frame is published under.
    [[nodiscard]] virtual bool retrieve(cv::Mat& into, std::uint64_t sequence) = 0;

    // The shape of a frame this source produced into `mat`.
    [[nodiscard]] virtual SourceShape shape_of(const cv::Mat& mat) const {
        return {mat.cols, mat.rows, mat.type(), opencv_pixel_format(mat.type())};
    }

    // Its own pace in frames per second; 0 when it paces itself (live) or does
    // not say.
    [[nodiscard]] virtual double frame_rate() const = 0;

    // Cameras, URLs, pipelines: stalls are reconnected, not rewound.
    [[nodiscard]] virtual bool live() const = 0;

    // When the grabbed frame was captured (CLOCK_MONOTONIC ns), if the source
    // knows better than the publisher, which otherwise stamps the time grab()
    // returned; 0: it does not.
    [[nodiscard]] virtual std::int64_t capture_ns() const { return 0; }

    // The frames carry a stamp_frame() stamp (added by the publisher, last).
    [[nodiscard]] virtual bool stamps() const { return false; }

    // Back to the first frame (files, sequences) or reopened (live). False if
    // the source cannot be opened again.
    [[nodiscard]] virtual bool restart() = 0;

    // Capture on demand: closes the source (a camera goes dark, a stream is
    // disconnected) until restart() reopens it.
    virtual void suspend() {}

    // Frames the source announced but could not decode, so far.
    [[nodiscard]] virtual std::uint64_t decode_errors() const { return 0; }

    // Sources that write a grabbed frame of any publishable format and size
    // straight into a slot's planes themselves (libav's decoder, the test
    // pattern): the publisher gives them the slot, not a cv::Mat, and
    // publishes frames of expected_shape() -- the grabbed frame's shape.
    [[nodiscard]] virtual bool writes_slots() const { return false; }
    // Writes the grabbed frame into the slot at `slot`, laid out as `format`.
    [[nodiscard]] virtual bool write_into(std::byte* /*slot*/, const FrameFormat& /*format*/,
                                          std::uint64_t /*sequence*/) {
        return false;
    }
    // Frames (of a slot-writing source) that went through a buffer of its own
    // on their way into the slot.
    [[nodiscard]] virtual std::uint64_t zero_copy_misses() const { return 0; }
};

// Opens SOURCE as `type` (already resolved, never automatic). Errors name the
// source and are input errors: nothing has been created yet.
[[nodiscard]] Result<std::unique_ptr<FrameSource>> open_source(const Options& options,
                                                               SourceType type);

// A readable regular file, or the error that names what is wrong with it.
[[nodiscard]] Status check_readable_file(const std::string& path, const char* what = "file");

// Numbered image files, printf-style (img_%04d.png), decoded into the slot.
[[nodiscard]] Result<std::unique_ptr<FrameSource>> open_image_sequence(const std::string& pattern);

// The built-in moving test pattern in `width`x`height` and `format`.
[[nodiscard]] Result<std::unique_ptr<FrameSource>> make_test_pattern(std::uint32_t width,
                                                                     std::uint32_t height,
                                                                     PixelFormat format);

// Guesses what SOURCE is from its spelling (no SOURCE: the pattern).
[[nodiscard]] SourceType detect_source_type(const std::string& source);
[[nodiscard]] const char* to_string(SourceType type);

}  // namespace framebus::writer
