// N MJPEG clients on one URL for a while (the serve benchmark's load): prints
// one JSON line with the delivered frame rate per client and the frame age at
// the client (the part's X-Framebus-Publish-Ns to its last byte arriving,
// both CLOCK_MONOTONIC on this machine).
//
//   framebus-serve-bench-clients PORT TARGET CLIENTS SECONDS
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "mjpeg_client.hpp"

namespace {

struct Record {
    std::vector<std::int64_t> received_ns;
    std::vector<std::int64_t> ages_ns;
    bool failed = false;
};

double percentile(std::vector<std::int64_t> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return static_cast<double>(values[static_cast<std::size_t>(p * (values.size() - 1))]);
}

}  // namespace

int main(int argc, char** argv) {
    using namespace framebus::test;
    if (argc != 5) {
        std::fprintf(stderr, "usage: framebus-serve-bench-clients PORT TARGET CLIENTS SECONDS\n");
        return 2;
    }
    const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
    const std::string target = argv[2];
    const int count = std::atoi(argv[3]);
    const double seconds = std::atof(argv[4]);
    std::vector<Record> records(static_cast<std::size_t>(count));
    std::atomic<int> connected{0};
    std::atomic<bool> measuring{false}, done{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i)
        threads.emplace_back([&, i] {
            Record& record = records[static_cast<std::size_t>(i)];
            MjpegStream stream(port, target);
            bool first = true;
            while (!done) {
                auto part = stream.next(std::chrono::seconds(5));
                if (!part) {
                    record.failed = !done;
                    if (first) connected.fetch_add(1);
                    return;
                }
                if (first) connected.fetch_add(1);
                first = false;
                if (measuring) {
                    record.received_ns.push_back(part->received_ns);
                    record.ages_ns.push_back(part->received_ns - part->publish_ns);
                }
            }
        });
    while (connected < count) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::printf("ready\n");
    std::fflush(stdout);
    measuring = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // measurement window
    measuring = false;
    done = true;
    for (auto& thread : threads) thread.join();

    std::vector<std::int64_t> ages;
    double fps_sum = 0, fps_min = 1e9;
    int failed = 0;
    for (const Record& record : records) {
        failed += record.failed ? 1 : 0;
        const double fps =
            record.received_ns.size() < 2
                ? 0
                : (record.received_ns.size() - 1) * 1e9 /
                      static_cast<double>(record.received_ns.back() - record.received_ns.front());
        fps_sum += fps;
        fps_min = std::min(fps_min, fps);
        ages.insert(ages.end(), record.ages_ns.begin(), record.ages_ns.end());
    }
    std::printf(
        "{\"clients\": %d, \"failed\": %d, \"fps_mean\": %.2f, \"fps_min\": %.2f, "
        "\"age_p50_ms\": %.2f, \"age_p99_ms\": %.2f}\n",
        count, failed, fps_sum / count, fps_min, percentile(ages, 0.5) / 1e6,
        percentile(ages, 0.99) / 1e6);
    return 0;
}
