// FrameSource over numbered image files (img_%04d.png). The files are read
// here and decoded with cv::imdecode straight into the slot's memory, so the
// decoder's rows land in the bus with no copy on the way. A file that does not
// decode is counted and stepped over; the first missing number ends the pass.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "frame_source.hpp"
#include "stderr_silenced.hpp"

namespace framebus::writer {

namespace {

// Where numbering may start (0, 1, ... as ffmpeg's image2 looks for it).
constexpr int kFirstNumberSearch = 5;
// The widest zero padding a pattern may ask for: an int has at most 10 digits.
constexpr int kMaxNumberWidth = 10;

// The pattern goes to snprintf as its format, so it is checked first: exactly
// one frame number (%d, %Nd, %0Nd with N <= kMaxNumberWidth) and %% for a
// literal percent sign; any other conversion (%s, %n, %x, %*d, %ld, a huge
// width) would read or write memory that is not there, or burn a core.
Status check_pattern(const std::string& pattern) {
    auto refuse = [&](const std::string& why) {
        return Error{Errc::invalid_argument, "image sequence pattern '" + pattern + "': " + why +
                                                 " (give one frame number: %d, %04d, ...; %% for "
                                                 "a percent sign)"};
    };
    int numbers = 0;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] != '%') continue;
        if (++i < pattern.size() && pattern[i] == '%') continue;  // a literal '%'
        if (i < pattern.size() && pattern[i] == '0') ++i;
        int width = 0;
        for (; i < pattern.size() && pattern[i] >= '0' && pattern[i] <= '9'; ++i)
            width = std::min(width * 10 + (pattern[i] - '0'), kMaxNumberWidth + 1);
        if (i >= pattern.size() || pattern[i] != 'd') return refuse("a conversion other than %d");
        if (width > kMaxNumberWidth)
            return refuse("a frame number wider than " + std::to_string(kMaxNumberWidth) +
                          " digits");
        ++numbers;
    }
    if (numbers != 1)
        return refuse(numbers == 0 ? "no frame number" : "more than one frame number");
    return ok_status();
}

class ImageSequence final : public FrameSource {
  public:
    explicit ImageSequence(std::string pattern)
        : pattern_(std::move(pattern)), description_("image sequence '" + pattern_ + "'") {}

    // Finds the first file and decodes it, so its shape is known and a
    // sequence of garbage is refused before any segment exists.
    Status open() {
        for (int n = 0; n <= kFirstNumberSearch; ++n) {
            if (exists(n)) {
                first_ = n;
                next_ = n;
                break;
            }
        }
        if (first_ < 0)
            return Error{Errc::not_found, "cannot open " + description_ + ": no file matches it"};
        if (!cv::haveImageReader(path_of(first_)) || !read_file(first_))
            return Error{Errc::invalid_argument,
                         "cannot read '" + std::string(path_.data()) + "' as an image"};
        cv::Mat probe;
        bool decoded = false;
        {
            StderrSilenced quiet;
            decoded = decode(probe);
        }
        if (!decoded)
            return Error{Errc::invalid_argument,
                         "cannot decode '" + std::string(path_.data()) + "' as an image"};
        shape_ = shape_of(probe);
        return ok_status();
    }

    const std::string& description() const override { return description_; }

    Grab grab() override {
        for (;;) {
            if (!exists(next_)) return Grab::end;
            // imdecode into a given Mat cannot tell "no decoder for these
            // bytes" from success (it leaves the Mat as it was and returns
            // it), so files no decoder recognises are weeded out here.
            const bool usable = cv::haveImageReader(path_of(next_)) && read_file(next_);
            ++next_;
            if (usable) return Grab::frame;
            ++decode_errors_;  // there but not an image: step over it
        }
    }

    SourceShape expected_shape() const override { return shape_; }

    bool retrieve(cv::Mat& into, std::uint64_t /*sequence*/) override {
        if (!decode(into)) {
            ++decode_errors_;
            return false;
        }
        shape_ = shape_of(into);
        return true;
    }

    double frame_rate() const override { return 0; }  // images carry no rate
    bool live() const override { return false; }
    bool restart() override {
        next_ = first_;
        return exists(first_);
    }
    std::uint64_t decode_errors() const override { return decode_errors_; }

  private:
    // The file name of number n, in a fixed buffer (no allocation per frame).
    const char* path_of(int n) {
        std::snprintf(path_.data(), path_.size(), pattern_.c_str(), n);
        return path_.data();
    }

    bool exists(int n) {
        struct stat st {};
        return ::stat(path_of(n), &st) == 0 && S_ISREG(st.st_mode);
    }

    // Reads file n into bytes_ (its capacity is reused from frame to frame).
    bool read_file(int n) {
        const int fd = ::open(path_of(n), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        struct stat st {};
        bool ok = ::fstat(fd, &st) == 0 && st.st_size > 0;
        if (ok) {
            bytes_.resize(static_cast<std::size_t>(st.st_size));
            std::size_t done = 0;
            while (ok && done < bytes_.size()) {
                const ssize_t got = ::read(fd, bytes_.data() + done, bytes_.size() - done);
                if (got < 0 && errno == EINTR) continue;
                ok = got > 0;
                if (ok) done += static_cast<std::size_t>(got);
            }
        }
        ::close(fd);
        return ok;
    }

    // cv::imdecode writes into `into` when it already has the image's size
    // and type (a slot), and only reallocates it otherwise.
    bool decode(cv::Mat& into) {
        try {
            // A failure while decoding pixels releases `into` (so it is empty).
            cv::imdecode(bytes_, cv::IMREAD_UNCHANGED, &into);
            return !into.empty();
        } catch (const cv::Exception&) {
            return false;
        }
    }

    std::string pattern_;
    std::string description_;
    std::array<char, 4096> path_{};
    std::vector<unsigned char> bytes_;
    int first_ = -1;
    int next_ = 0;
    SourceShape shape_;
    std::uint64_t decode_errors_ = 0;
};

}  // namespace

Result<std::unique_ptr<FrameSource>> open_image_sequence(const std::string& pattern) {
    if (auto st = check_pattern(pattern); !st) return st.error();
    // The directory must exist; a clearer message than "no file matches".
    const auto dir = std::filesystem::path(pattern).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
        return Error{Errc::not_found, "cannot open image sequence '" + pattern +
                                          "': no directory '" + dir.string() + "'"};
    auto sequence = std::make_unique<ImageSequence>(pattern);
    if (auto st = sequence->open(); !st) return st.error();
    return std::unique_ptr<FrameSource>(std::move(sequence));
}

}  // namespace framebus::writer
