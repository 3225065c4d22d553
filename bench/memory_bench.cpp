// A reader process's own memory: this program exec'd again as a plain
// reader (--memory-probe), so nothing of the benchmark process is inherited.
// It reads /proc/self/smaps_rollup before opening the segment and after
// leasing frames and reading every byte of each; the frames are shared
// memory the writer wrote, so its private dirty memory must not grow with
// frame size.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "bench_support.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"

namespace framebus::bench {
namespace {

struct Rollup {
    long private_dirty_kb = -1, rss_kb = -1, pss_kb = -1;
};

Rollup read_rollup() {
    Rollup r;
    std::ifstream in("/proc/self/smaps_rollup");
    std::string line;
    while (std::getline(in, line)) {  // "Rss:   1234 kB"; the first line names the range
        std::istringstream fields(line);
        std::string key;
        long value = -1;
        if (!(fields >> key >> value)) continue;
        if (key == "Private_Dirty:") r.private_dirty_kb = value;
        if (key == "Rss:") r.rss_kb = value;
        if (key == "Pss:") r.pss_kb = value;
    }
    return r;
}

void reader_memory(benchmark::State& state, FrameSize size, int frames) {
    const std::string name = unique_segment_name("mem");
    WriterOptions options;
    options.name = name;
    options.max_readers = 8;
    options.initial_format = size.format();
    auto writer = Writer::create(options);
    if (!writer) return fail(state, writer.error().message);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return fail(state, "pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) return fail(state, "fork failed");
    if (pid == 0) {
        ::dup2(out[1], STDOUT_FILENO);
        const std::string count = std::to_string(frames);
        ::execl("/proc/self/exe", "framebus-bench", "--memory-probe", name.c_str(), count.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(out[1]);
    // A frame every millisecond until the probe has said its piece.
    std::string text;
    const std::int64_t deadline = now_ns() + 30'000'000'000;
    for (std::uint64_t k = 0; now_ns() < deadline;) {
        pollfd p{out[0], POLLIN, 0};
        if (::poll(&p, 1, 1) > 0) {
            char buf[256];
            const ssize_t n = ::read(out[0], buf, sizeof buf);
            if (n <= 0) break;  // the probe is done
            text.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        auto slot = writer->acquire(size.format());
        if (!slot) break;
        // Every byte, as a real writer does: the pages are then the writer's
        // too, and a reader that only reads them has none of its own.
        std::memset(slot->data(), fill_value(++k), size.bytes());
        slot->commit();
    }
    ::close(out[0]);
    int status = 0;
    if (now_ns() >= deadline) ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(state, "memory probe failed: " + text);
    Rollup before, after;
    std::istringstream in(text);
    if (!(in >> before.private_dirty_kb >> after.private_dirty_kb >> after.rss_kb >> after.pss_kb))
        return fail(state, "memory probe said: " + text);
    for (auto _ : state) {
    }
    state.counters["before_private_dirty_kb"] = static_cast<double>(before.private_dirty_kb);
    state.counters["private_dirty_kb"] = static_cast<double>(after.private_dirty_kb);
    state.counters["rss_kb"] = static_cast<double>(after.rss_kb);
    state.counters["pss_kb"] = static_cast<double>(after.pss_kb);
    state.counters["frames"] = frames;
}

}  // namespace

int memory_probe(const std::string& segment, int frames) {
    const Rollup before = read_rollup();
    ReaderOptions options;
    options.wait_for_segment = std::chrono::seconds(10);
    auto reader = Reader::open(segment, options);
    if (!reader) {
        std::printf("cannot open %s: %s\n", segment.c_str(), reader.error().message.c_str());
        return 3;
    }
    std::uint64_t sum = 0;
    for (int k = 0; k < frames; ++k) {
        if (reader->wait(std::chrono::seconds(10)) != WaitStatus::frame) return 4;
        auto lease = reader->latest();
        if (!lease) return 5;
        sum += sum_words(lease->data(), lease->format().bytes());  // touches every page
    }
    const Rollup after = read_rollup();
    std::printf("%ld %ld %ld %ld %d\n", before.private_dirty_kb, after.private_dirty_kb,
                after.rss_kb, after.pss_kb, static_cast<int>(sum & 1));
    return 0;
}

void register_memory_benchmarks(const RunLengths& run) {
    for (const FrameSize& size : kFrameSizes)
        benchmark::RegisterBenchmark(
            ("reader_memory/" + std::string(size.label)).c_str(),
            [=](benchmark::State& s) { reader_memory(s, size, run.memory_probe_frames); })
            ->Unit(benchmark::kMillisecond)
            ->Iterations(1);
}

}  // namespace framebus::bench
