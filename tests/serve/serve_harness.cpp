#include "serve_harness.hpp"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <set>
#include <thread>

#include "framebus/reader.hpp"
#include "test_pattern.hpp"
#include "test_support.hpp"

namespace framebus::test {

namespace {
// Writers end SIGKILLed with their test (Program's destructor), which leaves
// their segments behind: the names given to start_writer are unlinked when
// the test program exits, after every test and its processes are gone.
struct WriterSegments {
    std::set<std::string> names;
    ~WriterSegments() {
        for (const std::string& name : names) remove_segment_file(name);
    }
};
WriterSegments writer_segments;
}  // namespace

ServeProcess::ServeProcess(std::vector<std::string> extra_args) {
    std::vector<std::string> argv{FRAMEBUS_SERVE_BIN, "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    program_ = std::make_unique<Program>(argv);
    const std::string marker = "listening on http://127.0.0.1:";
    if (!program_->wait_for_err(marker, std::chrono::seconds(10))) return;
    const std::string err = program_->err();
    port_ = static_cast<unsigned short>(std::stoi(err.substr(err.find(marker) + marker.size())));
}

long long ServeProcess::stat(const std::string& name) const {
    auto reply = get("/api/stats");
    if (!reply || reply->status != 200) return -1;
    return nlohmann::json::parse(reply->body).at(name).get<long long>();
}

std::unique_ptr<Program> start_writer(const std::string& name, double fps, bool blocks,
                                      std::vector<std::string> extra_args) {
    writer_segments.names.insert(name);
    std::vector<std::string> argv;
    if (blocks)
        argv = {FRAMEBUS_TEST_WRITER_BIN, "--name",    name,     "--fps",
                std::to_string(fps),      "--pattern", "blocks", "--quiet"};
    else
        argv = {FRAMEBUS_WRITER_BIN, "--name", name, "--fps", std::to_string(fps), "--quiet"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto writer = std::make_unique<Program>(argv);
    // A frame from a live writer is the signal that this writer is up (a dead
    // writer's segment may still be under the name until the new one takes it).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
        auto reader = Reader::open(name, ReaderOptions{std::chrono::milliseconds(5000)});
        if (reader && reader->wait(std::chrono::seconds(2)) == WaitStatus::frame &&
            reader->writer_alive())
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return writer;
}

double blocks_error(const cv::Mat& bgr) {
    double total = 0;
    for (int quadrant = 0; quadrant < 4; ++quadrant) {
        const int x0 = (quadrant % 2) * bgr.cols / 2, y0 = (quadrant / 2) * bgr.rows / 2;
        // The centre half of the quadrant: away from JPEG's ringing at the edges.
        const cv::Rect centre(x0 + bgr.cols / 8, y0 + bgr.rows / 8, bgr.cols / 4, bgr.rows / 4);
        const cv::Scalar mean = cv::mean(bgr(centre));
        const Rgb want = kQuadrantColours[static_cast<std::size_t>(quadrant)];
        total +=
            std::abs(mean[0] - want.b) + std::abs(mean[1] - want.g) + std::abs(mean[2] - want.r);
    }
    return total / 12;
}

cv::Mat decode(const std::string& bytes, int flags) {
    return cv::imdecode(
        cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data())),
        flags);
}

}  // namespace framebus::test
