// Baseline: ZeroMQ PUB/SUB over ipc://, one message of two parts per frame
// (a small header with the send stamp, then the frame). The sender hands
// ZeroMQ its buffer without a copy (zmq_msg_init_data): ZeroMQ at its best.
#include <zmq.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench_support.hpp"

namespace framebus::bench {
namespace {

enum class Kind : std::uint32_t { probe = 1, frame = 2, stop = 3 };

struct MessageHeader {
    Kind kind;
    std::uint32_t reserved;
    std::uint64_t sequence;  // from 1
    std::int64_t send_ns;    // now_ns() just before zmq_send of the header
};

void no_free(void*, void*) {}  // the frame buffer belongs to the benchmark

std::string endpoint_name() {
    return "ipc://" + temp_dir() + "/" + unique_segment_name("zmq") + ".ipc";
}

// A context and one socket, closed in the right order.
struct Socket {
    void* context = nullptr;
    void* socket = nullptr;
    explicit Socket(int type) {
        context = zmq_ctx_new();
        if (context != nullptr) socket = zmq_socket(context, type);
        if (socket != nullptr) {
            const int linger = 0;
            zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
        }
    }
    ~Socket() {
        if (socket != nullptr) zmq_close(socket);
        if (context != nullptr) zmq_ctx_term(context);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
};

// A subscriber's side: connect, then receive messages until `on_frame` says stop.
struct Received {
    MessageHeader header{};
    zmq_msg_t body;
    bool has_body = false;
};

// Receives one header (+ body if any). False on error.
bool receive(void* socket, Received& out) {
    zmq_msg_t head;
    zmq_msg_init(&head);
    if (zmq_msg_recv(&head, socket, 0) < 0 || zmq_msg_size(&head) != sizeof(MessageHeader)) {
        zmq_msg_close(&head);
        return false;
    }
    std::memcpy(&out.header, zmq_msg_data(&head), sizeof(MessageHeader));
    const bool more = zmq_msg_more(&head) != 0;
    zmq_msg_close(&head);
    out.has_body = false;
    if (!more) return true;
    zmq_msg_init(&out.body);
    if (zmq_msg_recv(&out.body, socket, 0) < 0) {
        zmq_msg_close(&out.body);
        return false;
    }
    out.has_body = true;
    return true;
}

void* subscribe(Socket& s, const std::string& endpoint) {
    if (s.socket == nullptr) return nullptr;
    if (zmq_setsockopt(s.socket, ZMQ_SUBSCRIBE, "", 0) != 0) return nullptr;
    if (zmq_connect(s.socket, endpoint.c_str()) != 0) return nullptr;  // retried until bound
    return s.socket;
}

bool send_header(void* socket, Kind kind, std::uint64_t sequence, bool more) {
    const MessageHeader header{kind, 0, sequence, now_ns()};
    return zmq_send(socket, &header, sizeof header, more ? ZMQ_SNDMORE : 0) ==
           static_cast<int>(sizeof header);
}

bool send_frame(void* socket, std::uint64_t sequence, std::byte* data, std::size_t bytes) {
    if (!send_header(socket, Kind::frame, sequence, true)) return false;
    zmq_msg_t body;
    zmq_msg_init_data(&body, data, bytes, &no_free, nullptr);  // zero-copy send
    if (zmq_msg_send(&body, socket, 0) < 0) {
        zmq_msg_close(&body);
        return false;
    }
    return true;
}

// PUB/SUB drops everything sent before a subscription arrives (the "slow
// joiner"): send probes until every subscriber has seen one.
bool wait_for_subscribers(void* pub, SharedChannel& ch, std::uint32_t subscribers) {
    const std::int64_t deadline = now_ns() + 10'000'000'000;
    while (!ch->ready.wait_for(subscribers, 0, std::chrono::milliseconds(2))) {
        if (now_ns() > deadline || !send_header(pub, Kind::probe, 0, false)) return false;
    }
    return true;
}

void zmq_latency(benchmark::State& state, FrameSize size, int warmup) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const std::uint32_t total = frames + static_cast<std::uint32_t>(warmup);
    const std::size_t bytes = size.bytes();
    const std::string endpoint = endpoint_name();
    SharedChannel ch(total);
    ChildProcess receiver([&] {
        // The socket first: ZeroMQ's I/O thread starts with it and stays
        // unpinned, free to run on either CPU; only this thread is pinned.
        Socket s(ZMQ_SUB);
        pin_this_thread(receiver_cpu());
        void* sub = subscribe(s, endpoint);
        if (sub == nullptr) return 4;
        bool announced = false;
        for (std::uint32_t n = 0; n < total;) {
            Received m;
            ch->armed.store(n + 1);
            if (!receive(sub, m)) return 5;
            const std::int64_t complete_ns = now_ns();
            if (m.header.kind == Kind::probe) {
                if (!announced) ch->ready.add();
                announced = true;
                continue;
            }
            if (!m.has_body) return 6;
            const bool whole = zmq_msg_size(&m.body) == bytes;
            zmq_msg_close(&m.body);
            if (!whole) return 7;
            ch.samples()[n] = complete_ns - m.header.send_ns;
            ++n;
            ch->acked[0].add();
        }
        return 0;
    });
    Socket s(ZMQ_PUB);  // before pinning: the I/O thread stays unpinned
    ScopedPin pin(writer_cpu());
    if (s.socket == nullptr || zmq_bind(s.socket, endpoint.c_str()) != 0)
        return fail(state, std::string("zmq bind: ") + zmq_strerror(zmq_errno()));
    if (!wait_for_subscribers(s.socket, ch, 1)) return fail(state, "subscriber did not connect");
    std::vector<std::byte> frame(bytes, std::byte{1});
    std::uint32_t sent = 0;
    auto send = [&] {
        // No spinning while ZeroMQ works: our I/O thread may need this CPU.
        if (!ch->acked[0].wait_for(sent, 0) || !ch->armed.wait_for(sent + 1, 0)) return false;
        spin_for_ns(kBlockedPauseNs);  // the receiver is asleep in zmq_msg_recv
        ++sent;
        return send_frame(s.socket, sent, frame.data(), bytes);
    };
    for (int k = 0; k < warmup; ++k)
        if (!send()) return fail(state, "receiver stopped");
    for (auto _ : state) {
        if (!send()) {
            fail(state, "receiver stopped");
            break;
        }
    }
    const bool all_taken = ch->acked[0].wait_for(total, 0);
    if (!reap(state, receiver, "receiver") || !all_taken) return;
    set_latency_counters(state, summarize({ch.samples() + warmup, frames}));
}

void zmq_throughput(benchmark::State& state, FrameSize size, std::uint32_t readers,
                    int warmup_frames) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const auto warmup = static_cast<std::uint32_t>(warmup_frames);
    const std::uint32_t total = warmup + frames;
    const std::size_t bytes = size.bytes();
    const std::string endpoint = endpoint_name();
    SharedChannel ch(0);
    std::vector<std::unique_ptr<ChildProcess>> receivers;
    for (std::uint32_t r = 0; r < readers; ++r) {
        receivers.push_back(std::make_unique<ChildProcess>([&, r] {
            Socket s(ZMQ_SUB);  // before pinning: the I/O thread stays unpinned
            pin_this_thread(readers == 1 ? receiver_cpu() : -1);
            void* sub = subscribe(s, endpoint);
            if (sub == nullptr) return 4;
            bool announced = false;
            std::uint64_t sum = 0;
            std::uint64_t expected = 0;
            for (std::uint32_t n = 0; n < total;) {
                Received m;
                if (!receive(sub, m)) return 5;
                if (m.header.kind == Kind::probe) {
                    if (!announced) ch->ready.add();
                    announced = true;
                    continue;
                }
                if (!m.has_body || zmq_msg_size(&m.body) != bytes) return 6;
                sum += sum_words(static_cast<const std::byte*>(zmq_msg_data(&m.body)), bytes);
                expected += expected_sum(fill_value(m.header.sequence), bytes);
                zmq_msg_close(&m.body);
                ++n;
                ch->acked[r].add();
            }
            ch->checksum_ok[r].store(sum == expected ? 1 : 0);
            return 0;
        }));
    }
    Socket s(ZMQ_PUB);  // before pinning: the I/O thread stays unpinned
    std::optional<ScopedPin> pin;
    if (readers == 1) pin.emplace(writer_cpu());
    if (s.socket == nullptr || zmq_bind(s.socket, endpoint.c_str()) != 0)
        return fail(state, std::string("zmq bind: ") + zmq_strerror(zmq_errno()));
    if (!wait_for_subscribers(s.socket, ch, readers))
        return fail(state, "subscribers did not connect");
    // A ring of buffers: one is refilled only after every receiver has
    // acknowledged the frame it carried, so ZeroMQ is done with it.
    std::vector<std::vector<std::byte>> ring(kThroughputWindow + 2,
                                             std::vector<std::byte>(bytes, std::byte{0}));
    const std::int64_t spin_ns = 0;  // never spin: our I/O thread may need this CPU
    auto timing = run_windowed_sender(state, ch, readers, warmup, spin_ns, [&](std::uint32_t seq) {
        std::vector<std::byte>& frame = ring[seq % ring.size()];
        std::memset(frame.data(), fill_value(seq), bytes);
        return send_frame(s.socket, seq, frame.data(), bytes);
    });
    for (auto& r : receivers)
        if (!reap(state, *r, "receiver")) return;
    if (!timing) return;
    for (std::uint32_t r = 0; r < readers; ++r)
        if (ch->checksum_ok[r].load() != 1) return fail(state, "a receiver got wrong bytes");
    set_throughput_counters(state, bytes, readers, *timing);
}

}  // namespace

void register_zmq_benchmarks(const RunLengths& run) {
    int major = 0, minor = 0, patch = 0;
    zmq_version(&major, &minor, &patch);
    benchmark::AddCustomContext("zeromq", std::to_string(major) + "." + std::to_string(minor) +
                                              "." + std::to_string(patch));
    register_transport_benchmarks("zmq", run, zmq_latency, zmq_throughput);
}

}  // namespace framebus::bench
