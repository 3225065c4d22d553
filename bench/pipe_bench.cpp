// Baseline: the whole frame through a pipe with a length prefix, between two
// processes (what `writer | reader` pipelines do). Latency measured like the
// bus: send stamp -> the receiver has the complete frame.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "bench_support.hpp"

namespace framebus::bench {
namespace {

constexpr int kPipeBytes = 1 << 20;  // Linux's default pipe-max-size for unprivileged users

struct FrameHeader {
    std::uint64_t length;    // 0: end of stream
    std::uint64_t sequence;  // from 1
    std::int64_t send_ns;    // now_ns() just before the first byte is written
};

bool write_all(int fd, const void* data, std::size_t n) {
    const auto* p = static_cast<const std::byte*>(data);
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

bool read_all(int fd, void* data, std::size_t n) {
    auto* p = static_cast<std::byte*>(data);
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

// A pipe with a 1 MiB buffer; both ends closed by the destructor.
struct Pipe {
    int read_end = -1;
    int write_end = -1;
    int capacity = 0;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) return;
        read_end = fds[0];
        write_end = fds[1];
        capacity = ::fcntl(write_end, F_SETPIPE_SZ, kPipeBytes);
        if (capacity < 0) capacity = ::fcntl(write_end, F_GETPIPE_SZ);
    }
    ~Pipe() {
        close_read();
        close_write();
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    void close_read() {
        if (read_end >= 0) ::close(std::exchange(read_end, -1));
    }
    void close_write() {
        if (write_end >= 0) ::close(std::exchange(write_end, -1));
    }
};

void pipe_latency(benchmark::State& state, FrameSize size, int warmup) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const std::uint32_t total = frames + static_cast<std::uint32_t>(warmup);
    const std::size_t bytes = size.bytes();
    SharedChannel ch(total);
    Pipe pipe;
    if (pipe.read_end < 0) return fail(state, "pipe2 failed");
    ChildProcess receiver([&] {
        pipe.close_write();
        pin_this_thread(receiver_cpu());
        std::vector<std::byte> frame(bytes, std::byte{0});  // mapped before the first frame
        for (std::uint32_t n = 0; n < total; ++n) {
            FrameHeader header{};
            ch->armed.store(n + 1);
            if (!read_all(pipe.read_end, &header, sizeof header)) return 5;
            if (header.length != bytes) return 6;
            if (!read_all(pipe.read_end, frame.data(), bytes)) return 7;
            const std::int64_t complete_ns = now_ns();
            ch.samples()[n] = complete_ns - header.send_ns;
            ch->acked[0].add();
        }
        return 0;
    });
    pipe.close_read();
    ScopedPin pin(writer_cpu());
    std::vector<std::byte> frame(bytes, std::byte{1});
    std::uint32_t sent = 0;
    auto send = [&] {
        if (!ch->acked[0].wait_for(sent, 1'000'000) || !ch->armed.wait_for(sent + 1, 1'000'000))
            return false;
        spin_for_ns(kBlockedPauseNs);  // the receiver is asleep in read()
        ++sent;
        const FrameHeader header{bytes, sent, now_ns()};
        return write_all(pipe.write_end, &header, sizeof header) &&
               write_all(pipe.write_end, frame.data(), bytes);
    };
    for (int k = 0; k < warmup; ++k)
        if (!send()) return fail(state, "receiver stopped");
    for (auto _ : state) {
        if (!send()) {
            fail(state, "receiver stopped");
            break;
        }
    }
    const bool all_taken = ch->acked[0].wait_for(total, 1'000'000);
    pipe.close_write();
    if (!reap(state, receiver, "receiver") || !all_taken) return;
    set_latency_counters(state, summarize({ch.samples() + warmup, frames}));
    state.counters["pipe_bytes"] = pipe.capacity;
}

// The writer fills every byte of a private frame and writes it into one pipe
// per reader; each reader reads it whole and sums every byte.
void pipe_throughput(benchmark::State& state, FrameSize size, std::uint32_t readers,
                     int warmup_frames) {
    const auto frames = static_cast<std::uint32_t>(state.max_iterations);
    const auto warmup = static_cast<std::uint32_t>(warmup_frames);
    const std::uint32_t total = warmup + frames;
    const std::size_t bytes = size.bytes();
    SharedChannel ch(0);
    std::vector<std::unique_ptr<Pipe>> pipes;
    for (std::uint32_t r = 0; r < readers; ++r) {
        pipes.push_back(std::make_unique<Pipe>());
        if (pipes.back()->read_end < 0) return fail(state, "pipe2 failed");
    }
    std::vector<std::unique_ptr<ChildProcess>> receivers;
    for (std::uint32_t r = 0; r < readers; ++r) {
        receivers.push_back(std::make_unique<ChildProcess>([&, r] {
            for (auto& p : pipes) p->close_write();
            pin_this_thread(readers == 1 ? receiver_cpu() : -1);
            std::vector<std::byte> frame(bytes, std::byte{0});
            std::uint64_t sum = 0;
            std::uint64_t expected = 0;
            for (std::uint32_t n = 0; n < total; ++n) {
                FrameHeader header{};
                if (!read_all(pipes[r]->read_end, &header, sizeof header)) return 5;
                if (header.length != bytes) return 6;
                if (!read_all(pipes[r]->read_end, frame.data(), bytes)) return 7;
                sum += sum_words(frame.data(), bytes);
                expected += expected_sum(fill_value(header.sequence), bytes);
                ch->acked[r].add();
            }
            ch->checksum_ok[r].store(sum == expected ? 1 : 0);
            return 0;
        }));
    }
    for (auto& p : pipes) p->close_read();
    std::optional<ScopedPin> pin;
    if (readers == 1) pin.emplace(writer_cpu());
    std::vector<std::byte> frame(bytes, std::byte{0});
    const std::int64_t spin_ns = readers == 1 ? 50'000 : 2'000;
    auto timing = run_windowed_sender(state, ch, readers, warmup, spin_ns, [&](std::uint32_t seq) {
        std::memset(frame.data(), fill_value(seq), bytes);
        const FrameHeader header{bytes, seq, now_ns()};
        for (auto& p : pipes)
            if (!write_all(p->write_end, &header, sizeof header) ||
                !write_all(p->write_end, frame.data(), bytes))
                return false;
        return true;
    });
    for (auto& p : pipes) p->close_write();
    for (auto& r : receivers)
        if (!reap(state, *r, "receiver")) return;
    if (!timing) return;
    for (std::uint32_t r = 0; r < readers; ++r)
        if (ch->checksum_ok[r].load() != 1) return fail(state, "a receiver got wrong bytes");
    set_throughput_counters(state, bytes, readers, *timing);
}

}  // namespace

void register_pipe_benchmarks(const RunLengths& run) {
    register_transport_benchmarks("pipe", run, pipe_latency, pipe_throughput);
}

}  // namespace framebus::bench
