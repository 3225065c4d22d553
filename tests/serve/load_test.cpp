// 50 MJPEG clients on one 640x480 30 fps segment, plus one deliberately slow
// client: every fast client gets the writer's rate, the server encodes each
// frame once (not once per client), the writer drops nothing, and the slow
// client skips frames instead of queueing them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "serve_harness.hpp"
#include "test_support.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;

constexpr int kClients = 50;
constexpr auto kDuration = 20s;

struct ClientRecord {
    std::vector<std::uint64_t> sequences;
    std::vector<std::int64_t> received_ns;
    bool failed = false;
};

double rate(const ClientRecord& record) {
    if (record.received_ns.size() < 2) return 0;
    return (record.received_ns.size() - 1) * 1e9 /
           static_cast<double>(record.received_ns.back() - record.received_ns.front());
}

TEST(ServeLoad, FiftyClientsGetTheWriterRateFromOneEncodePerFrameAndASlowClientSkips) {
    const std::string name = unique_name("serve-load");
    auto writer = start_writer(name, 30);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();

    std::vector<ClientRecord> records(kClients + 1);
    std::atomic<int> connected{0};
    std::atomic<bool> measuring{false}, done{false};
    std::vector<std::thread> clients;
    for (int i = 0; i <= kClients; ++i) {
        const bool slow = i == kClients;
        clients.emplace_back([&, i, slow] {
            // The slow client's small receive buffer: what a slow link holds, not
            // megabytes of old frames.
            MjpegStream stream(serve.port(), "/stream/" + name, slow ? 8 * 1024 : 0,
                               slow ? 4 * 1024 : 65536);
            ClientRecord& record = records[static_cast<std::size_t>(i)];
            if (!stream.connected() || stream.status() != 200) {
                record.failed = true;
                return;
            }
            bool counted = false;
            while (!done.load()) {
                auto part = stream.next(5s);
                if (!part) {
                    record.failed = !done.load();
                    return;
                }
                if (!counted) {
                    counted = true;
                    connected.fetch_add(1);
                }
                if (measuring.load()) {
                    record.sequences.push_back(part->sequence);
                    record.received_ns.push_back(part->received_ns);
                }
                if (slow) std::this_thread::sleep_for(1s);  // the deliberate slowness
            }
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (connected.load() < kClients + 1 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    ASSERT_EQ(connected.load(), kClients + 1) << "every client got a first part";

    const long long encodes_before = serve.stat("encodes");
    measuring = true;
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(kDuration);  // the measurement window
    measuring = false;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long long encodes = serve.stat("encodes") - encodes_before;
    done = true;
    for (auto& client : clients) client.join();

    writer->kill(SIGTERM);
    ASSERT_EQ(writer->wait(10s), 0);
    EXPECT_NE((writer->out() + writer->err()).find("writer summary: frames="), std::string::npos);
    EXPECT_NE((writer->out() + writer->err()).find(" dropped=0 "), std::string::npos)
        << writer->out() << writer->err();

    // What the writer published in the window, from the fast clients' sequences.
    const ClientRecord& reference = records[0];
    ASSERT_GE(reference.sequences.size(), 2u);
    const double writer_fps =
        (reference.sequences.back() - reference.sequences.front()) * 1e9 /
        static_cast<double>(reference.received_ns.back() - reference.received_ns.front());
    double slowest = 1e9;
    for (int i = 0; i < kClients; ++i) {
        const ClientRecord& record = records[static_cast<std::size_t>(i)];
        EXPECT_FALSE(record.failed) << "client " << i;
        slowest = std::min(slowest, rate(record));
    }
    const double encode_rate = static_cast<double>(encodes) / seconds;
    std::printf("load: writer %.1f fps, slowest of %d clients %.1f fps, %.1f encodes/s\n",
                writer_fps, kClients, slowest, encode_rate);
    EXPECT_GE(slowest, 25.0);
    EXPECT_GE(slowest, 0.85 * writer_fps);
    // Once per frame: about the writer's rate, nowhere near clients x rate.
    EXPECT_LE(encode_rate, writer_fps * 1.1 + 1);
    EXPECT_GE(encode_rate, writer_fps * 0.85);

    // The slow client: once the socket buffers are full, each part it gets was
    // the newest when it was sent: over its last parts the sequence advances by
    // about the writer's rate per part read (queued frames would advance by 1).
    const ClientRecord& slow = records[kClients];
    ASSERT_GE(slow.sequences.size(), 15u);
    const std::size_t last = slow.sequences.size() - 1, first = last - 8;
    const double advance =
        static_cast<double>(slow.sequences[last] - slow.sequences[first]) / (last - first);
    std::printf("slow client: %zu parts, sequence advance per part over the last 8: %.1f\n",
                slow.sequences.size(), advance);
    EXPECT_GE(advance, 10.0) << "frames are skipped, not queued";
}

}  // namespace
}  // namespace framebus::test
