// FrameSource over cv::VideoCapture: video files, cameras, stream URLs and
// GStreamer pipelines.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <regex>
#include <vector>

#include <opencv2/videoio.hpp>

#include "frame_source.hpp"
#include "stderr_silenced.hpp"

namespace framebus::writer {

namespace {

// Failed grabs in a row, before the announced end, after which a file counts
// as ended: damaged data is skipped, never waited on for ever.
constexpr int kMaxConsecutiveGrabFailures = 16;

// Stream timeouts (ms): a dead server is noticed and reconnected.
constexpr int kStreamOpenTimeoutMs = 10000;
constexpr int kStreamReadTimeoutMs = 5000;

bool all_digits(const std::string& text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// printf-style frame numbers: %d, %04d, ...
bool has_frame_number_pattern(const std::string& text) {
    static const std::regex pattern("%0?[0-9]*d");
    return std::regex_search(text, pattern);
}

Error input_error(Errc code, std::string message) {
    return Error{code, std::move(message)};
}

class CaptureSource final : public FrameSource {
  public:
    CaptureSource(SourceType type, std::string spec, std::string description,
                  std::vector<int> open_params)
        : type_(type),
          spec_(std::move(spec)),
          description_(std::move(description)),
          open_params_(std::move(open_params)) {}

    const std::string& description() const override { return description_; }

    bool open() {
        capture_.release();
        bool opened = false;
        try {
            switch (type_) {
                case SourceType::camera:
                    opened = all_digits(spec_)
                                 ? capture_.open(std::stoi(spec_), cv::CAP_V4L2, open_params_)
                                 : capture_.open(spec_, cv::CAP_V4L2, open_params_);
                    break;
                case SourceType::pipeline: {
                    // A pipeline that fails to start makes GStreamer print
                    // GStreamer-CRITICAL lines of its own; ours says it once.
                    StderrSilenced quiet;
                    opened = capture_.open(spec_, cv::CAP_GSTREAMER, open_params_);
                    break;
                }
                case SourceType::file:
                case SourceType::url:
                default:
                    opened = capture_.open(spec_, cv::CAP_FFMPEG, open_params_);
                    break;
            }
        } catch (const cv::Exception&) {
            opened = false;  // some backends throw on input they reject
        }
        if (!opened) return false;
        const double count = capture_.get(cv::CAP_PROP_FRAME_COUNT);
        announced_frames_ =
            (!live() && count > 0 && count < 1e12) ? static_cast<std::uint64_t>(count) : 0;
        grabbed_ = 0;
        return true;
    }

    Grab grab() override {
        for (int failures = 0;; ++failures) {
            bool grabbed = false;
            try {
                grabbed = capture_.grab();
            } catch (const cv::Exception&) {
                grabbed = false;
            }
            if (grabbed) {
                ++grabbed_;
                return Grab::frame;
            }
            if (live()) return Grab::failed;
            const bool before_announced_end =
                announced_frames_ != 0 && grabbed_ < announced_frames_;
            if (!before_announced_end || failures + 1 >= kMaxConsecutiveGrabFailures) {
                // Frames the container announced that never came were damaged.
                if (announced_frames_ > grabbed_) decode_errors_ += announced_frames_ - grabbed_;
                grabbed_ = announced_frames_;  // counted once, even if asked again
                return Grab::end;
            }
        }
    }

    SourceShape expected_shape() const override {
        SourceShape shape;
        shape.width = static_cast<int>(capture_.get(cv::CAP_PROP_FRAME_WIDTH));
        shape.height = static_cast<int>(capture_.get(cv::CAP_PROP_FRAME_HEIGHT));
        // OpenCV converts to BGR unless told otherwise: the usual decoded type.
        shape.cv_type = CV_8UC3;
        shape.pixel_format = PixelFormat::bgr24;
        return shape;
    }

    bool retrieve(cv::Mat& into, std::uint64_t /*sequence*/) override {
        bool ok = false;
        try {
            ok = capture_.retrieve(into) && !into.empty();
        } catch (const cv::Exception&) {
            ok = false;
        }
        if (!ok) ++decode_errors_;
        return ok;
    }

    double frame_rate() const override {
        if (live()) return 0;
        const double fps = capture_.get(cv::CAP_PROP_FPS);
        return (fps > 0 && fps < 10000) ? fps : 0;
    }

    bool live() const override {
        return type_ == SourceType::camera || type_ == SourceType::url ||
               type_ == SourceType::pipeline;
    }

    bool restart() override { return open(); }
    void suspend() override { capture_.release(); }

    std::uint64_t decode_errors() const override { return decode_errors_; }

  private:
    SourceType type_;
    std::string spec_;
    std::string description_;
    std::vector<int> open_params_;
    cv::VideoCapture capture_;
    std::uint64_t announced_frames_ = 0;  // by the container; 0: not known
    std::uint64_t grabbed_ = 0;           // frames grabbed since the last (re)open
    std::uint64_t decode_errors_ = 0;
};

}  // namespace

// Checks that a path names a readable regular file, so the message can say
// what is wrong with it before any backend gets to guess.
Status check_readable_file(const std::string& path, const char* what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        return input_error(
            err == ENOENT   ? Errc::not_found
            : err == EACCES ? Errc::permission_denied
                            : Errc::invalid_argument,
            std::string("cannot open ") + what + " '" + path + "': " + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode))
        return input_error(Errc::invalid_argument,
                           std::string("cannot open ") + what + " '" + path + "': is a directory");
    if (::access(path.c_str(), R_OK) != 0)
        return input_error(Errc::permission_denied, std::string("cannot open ") + what + " '" +
                                                        path + "': " + std::strerror(errno));
    return ok_status();
}

PixelFormat opencv_pixel_format(int cv_type) {
    switch (cv_type) {
        case CV_8UC1:
            return PixelFormat::gray8;
        case CV_8UC3:
            return PixelFormat::bgr24;
        case CV_8UC4:
            return PixelFormat::bgra32;
        case CV_16UC1:
            return PixelFormat::gray16;
        default:
            return PixelFormat::unknown;  // published converted to bgr24
    }
}

SourceType detect_source_type(const std::string& source) {
    if (source.empty()) return SourceType::pattern;
    if (all_digits(source) || source.starts_with("/dev/video")) return SourceType::camera;
    if (source.find("://") != std::string::npos) return SourceType::url;
    if (source.find('!') != std::string::npos) return SourceType::pipeline;
    if (has_frame_number_pattern(source)) return SourceType::sequence;
    return SourceType::file;
}

const char* to_string(SourceType type) {
    switch (type) {
        case SourceType::automatic:
            return "auto";
        case SourceType::pattern:
            return "test pattern";
        case SourceType::file:
            return "file";
        case SourceType::sequence:
            return "image sequence";
        case SourceType::camera:
            return "camera";
        case SourceType::url:
            return "stream";
        case SourceType::pipeline:
            return "GStreamer pipeline";
    }
    return "source";
}

Result<std::unique_ptr<FrameSource>> open_source(const Options& options, SourceType type) {
    const std::string& spec = options.source;
    std::string description = std::string(to_string(type)) + " '" + spec + "'";
    std::vector<int> params;

    switch (type) {
        case SourceType::file:
            if (auto st = check_readable_file(spec, "file"); !st) return st.error();
            break;
        case SourceType::sequence:
            return open_image_sequence(spec);
        case SourceType::camera:
            if (!all_digits(spec)) {
                if (auto st = check_readable_file(spec, "camera"); !st) return st.error();
            }
            if (options.camera_size) {
                params.insert(
                    params.end(),
                    {cv::CAP_PROP_FRAME_WIDTH, static_cast<int>(options.camera_size->width),
                     cv::CAP_PROP_FRAME_HEIGHT, static_cast<int>(options.camera_size->height)});
            }
            if (options.camera_fps)
                params.insert(params.end(),
                              {cv::CAP_PROP_FPS, static_cast<int>(*options.camera_fps + 0.5)});
            break;
        case SourceType::url:
            params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, kStreamOpenTimeoutMs,
                      cv::CAP_PROP_READ_TIMEOUT_MSEC, kStreamReadTimeoutMs};
            break;
        default:
            break;
    }

    auto source = std::make_unique<CaptureSource>(type, spec, description, std::move(params));
    if (!source->open()) {
        switch (type) {
            case SourceType::file:
                return input_error(
                    Errc::invalid_argument,
                    "cannot open file '" + spec + "': not a video file that OpenCV can decode");
            case SourceType::camera:
                return input_error(Errc::not_found,
                                   "cannot open camera '" + spec + "': no such camera");
            case SourceType::url:
                return input_error(Errc::not_found, "cannot open stream '" + spec + "'");
            case SourceType::pipeline:
                return input_error(Errc::invalid_argument,
                                   "cannot start GStreamer pipeline '" + spec + "'");
            default:
                return input_error(Errc::invalid_argument, "cannot open '" + spec + "'");
        }
    }
    return std::unique_ptr<FrameSource>(std::move(source));
}

}  // namespace framebus::writer
