// framebus-bench: every suite in one run, so the report's ratios compare
// figures measured side by side. `--smoke` runs each one for a few frames
// only (does it start, does it produce numbers); any Google Benchmark flag
// passes through (--benchmark_filter, --benchmark_out, ...).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.hpp"

int main(int argc, char** argv) {
    using namespace framebus::bench;
    // The reader of the memory benchmark: this program exec'd again.
    if (argc == 4 && std::string_view(argv[1]) == "--memory-probe")
        return memory_probe(argv[2], std::atoi(argv[3]));
    bool smoke = false;
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (i > 0 && std::string_view(argv[i]) == "--smoke")
            smoke = true;
        else
            args.push_back(argv[i]);
    }
    int count = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&count, args.data());
    if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;

    const RunLengths run = smoke ? smoke_run() : full_run();
    benchmark::AddCustomContext("framebus_run", smoke ? "smoke" : "full");
    benchmark::AddCustomContext(
        "framebus_pinning", can_pin() ? "writer on CPU " + std::to_string(writer_cpu()) +
                                            ", receiver on CPU " + std::to_string(receiver_cpu())
                                      : std::string("none (fewer than 2 CPUs)"));
    register_bus_cost_benchmarks(run);
    // Each floor right after the framebus latency it bounds, per frame size:
    // a ratio of neighbours survives other processes coming and going.
    for (std::size_t i = 0; i < kFrameSizeCount; ++i) {
        register_bus_latency_benchmark(run, i, false);
        register_floor_futex_benchmark(run, i);
        register_bus_latency_benchmark(run, i, true);
        register_floor_cacheline_benchmarks(run, i);
    }
    register_zero_copy_benchmarks(run);
    register_fanout_benchmarks(run);
    register_memory_benchmarks(run);
    register_copy_benchmarks(run);
    register_bus_throughput_benchmarks(run);
    register_pipe_benchmarks(run);
#ifdef FRAMEBUS_BENCH_HAVE_ZMQ
    register_zmq_benchmarks(run);
#endif
#ifdef FRAMEBUS_BENCH_HAVE_OPENCV
    register_decode_benchmarks(run);
#endif
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
