// Decoding a video file straight into bus slots (acquire, cap.read(as_mat(slot)),
// commit) against a plain cv::VideoCapture::read loop into a private cv::Mat:
// the same file, the same run, rounds interleaved so drift hits both alike.
#include <time.h>

#include <cstring>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "framebus/opencv.hpp"
#include "framebus/writer.hpp"

namespace framebus::bench {
namespace {

constexpr int kWidth = 1280;
constexpr int kHeight = 720;

// A textured, moving MJPG/AVI clip made once per run in the temporary directory.
const std::string& video_file(int frames, std::string& error) {
    static std::string path;
    if (!path.empty()) return path;
    const std::string candidate = temp_dir() + "/decode-1280x720.avi";
    cv::VideoWriter out(candidate, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 30.0,
                        cv::Size(kWidth, kHeight));
    if (!out.isOpened()) {
        error = "cv::VideoWriter cannot write MJPG/AVI here";
        return path;
    }
    // Blurred noise: detail like a camera image, so the decoder has real work.
    cv::Mat texture(kHeight, 2 * kWidth, CV_8UC3);
    cv::randu(texture, cv::Scalar::all(0), cv::Scalar::all(255));
    cv::GaussianBlur(texture, texture, cv::Size(7, 7), 0);
    for (int k = 0; k < frames; ++k) {
        cv::Mat frame = texture(cv::Rect((k * 8) % kWidth, 0, kWidth, kHeight)).clone();
        cv::circle(frame, cv::Point((k * 13) % kWidth, kHeight / 2), 80, cv::Scalar(0, 200, 255),
                   cv::FILLED);
        cv::putText(frame, std::to_string(k), cv::Point(40, 100), cv::FONT_HERSHEY_SIMPLEX, 3,
                    cv::Scalar(255, 255, 255), 6);
        out.write(frame);
    }
    out.release();
    if (!std::filesystem::exists(candidate)) {
        error = "the video file was not written";
        return path;
    }
    path = candidate;
    return path;
}

double process_cpu_s() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);  // every thread: the decoder has some
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void set_decode_counters(benchmark::State& state, int decoded, std::int64_t elapsed_ns,
                         double cpu_s) {
    state.counters["frames"] = decoded;
    state.counters["fps"] = decoded / (static_cast<double>(elapsed_ns) * 1e-9);
    state.counters["cpu_ms_per_frame"] = decoded > 0 ? cpu_s * 1e3 / decoded : 0;
}

// Plain decode into `mats` private cv::Mats taken in turn: 1 is the usual
// loop; 10 has the footprint of the bus's 10 slots (a control: what costs
// the same there is memory, not the bus).
void decode_plain(benchmark::State& state, int frames, int mats) {
    std::string error;
    const std::string& path = video_file(frames, error);
    if (path.empty()) return fail(state, error);
    // Allocated and touched before the clock starts, like the bus's slots.
    std::vector<cv::Mat> ring;
    for (int m = 0; m < mats; ++m) ring.emplace_back(kHeight, kWidth, CV_8UC3, cv::Scalar::all(0));
    for (auto _ : state) {
        state.PauseTiming();
        cv::VideoCapture capture(path);
        if (!capture.isOpened()) {
            fail(state, "cannot open " + path);
            break;
        }
        state.SetLabel(capture.getBackendName());
        state.ResumeTiming();
        const std::int64_t start = now_ns();
        const double cpu_start = process_cpu_s();
        int decoded = 0;
        while (capture.read(ring[static_cast<std::size_t>(decoded % mats)])) ++decoded;
        set_decode_counters(state, decoded, now_ns() - start, process_cpu_s() - cpu_start);
        if (decoded != frames) fail(state, "decoded " + std::to_string(decoded) + " frames");
    }
}

// One segment for every bus round, its slots written once before the first
// (a long-running writer has long paid those first-touch page faults).
Writer* decode_writer(std::string& error) {
    static std::optional<Writer> writer;
    if (writer) return &*writer;
    const FrameFormat format = FrameFormat::packed(kWidth, kHeight, PixelFormat::bgr24);
    WriterOptions options;
    options.name = unique_segment_name("decode");
    options.initial_format = format;
    auto created = Writer::create(options);
    if (!created) {
        error = created.error().message;
        return nullptr;
    }
    for (std::uint32_t k = 0; k < created->slot_count(); ++k) {
        auto slot = created->acquire(format);
        if (!slot) {
            error = slot.error().message;
            return nullptr;
        }
        std::memset(slot->data(), 0, format.bytes());
        slot->commit();
    }
    writer = std::move(*created);
    return &*writer;
}

void decode_into_bus(benchmark::State& state, int frames) {
    std::string error;
    const std::string& path = video_file(frames, error);
    if (path.empty()) return fail(state, error);
    Writer* writer = decode_writer(error);
    if (writer == nullptr) return fail(state, error);
    const FrameFormat format = FrameFormat::packed(kWidth, kHeight, PixelFormat::bgr24);
    for (auto _ : state) {
        state.PauseTiming();
        cv::VideoCapture capture(path);
        if (!capture.isOpened()) {
            fail(state, "cannot open " + path);
            break;
        }
        state.SetLabel(capture.getBackendName());
        state.ResumeTiming();
        const std::int64_t start = now_ns();
        const double cpu_start = process_cpu_s();
        int decoded = 0;
        int in_place = 0;
        for (;;) {
            auto slot = writer->acquire(format);
            if (!slot) break;
            cv::Mat view = as_mat(*slot);
            if (!capture.read(view)) break;  // end of file: the slot is abandoned
            // The decoder must have written into the slot, not a new buffer.
            in_place += view.data == reinterpret_cast<uchar*>(slot->data());
            slot->commit();
            ++decoded;
        }
        set_decode_counters(state, decoded, now_ns() - start, process_cpu_s() - cpu_start);
        state.counters["in_place"] = in_place;
        if (decoded != frames)
            fail(state, "decoded " + std::to_string(decoded) + " frames");
        else if (in_place != decoded)
            fail(state, "the decoder reallocated instead of filling the slot");
    }
}

}  // namespace

void register_decode_benchmarks(const RunLengths& run) {
    for (int round = 1; round <= run.decode_rounds; ++round) {
        const std::string suffix = "/round_" + std::to_string(round);
        benchmark::RegisterBenchmark(
            ("decode/plain" + suffix).c_str(),
            [=](benchmark::State& s) { decode_plain(s, run.decode_frames, 1); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(1);
        benchmark::RegisterBenchmark(
            ("decode/bus" + suffix).c_str(),
            [=](benchmark::State& s) { decode_into_bus(s, run.decode_frames); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(1);
        benchmark::RegisterBenchmark(
            ("decode/plain_ring" + suffix).c_str(),
            [=](benchmark::State& s) { decode_plain(s, run.decode_frames, 10); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(1);
    }
}

}  // namespace framebus::bench
