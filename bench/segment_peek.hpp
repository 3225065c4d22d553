// A read-only look at a segment's publication line, only to tell when reader
// processes have entered their futex wait (pacing, never on a timed path).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "bench_support.hpp"
#include "framebus/layout.hpp"
#include "framebus/name.hpp"

namespace framebus::bench {

class WaitersPeek {
  public:
    explicit WaitersPeek(const std::string& name) {
        const int fd = ::open(segment_path(name).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        void* p = ::mmap(nullptr, sizeof(layout::SegmentHeader), PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (p != MAP_FAILED) header_ = static_cast<const layout::SegmentHeader*>(p);
    }
    ~WaitersPeek() {
        if (header_ != nullptr)
            ::munmap(const_cast<layout::SegmentHeader*>(header_), sizeof(layout::SegmentHeader));
    }
    WaitersPeek(const WaitersPeek&) = delete;
    WaitersPeek& operator=(const WaitersPeek&) = delete;

    // Until `count` readers sit in the wait (then a little longer, so they
    // are asleep in the kernel, not just past the increment). False if they
    // never come.
    [[nodiscard]] bool wait_for_sleepers(std::uint32_t count = 1) const {
        if (header_ == nullptr) return false;
        const std::int64_t deadline = now_ns() + 10'000'000'000;
        // relaxed: we only watch the count; nothing is read on the strength of it.
        while (header_->waiters.load(std::memory_order_relaxed) < count) {
            spin_hint();
            if (now_ns() > deadline) return false;
        }
        spin_for_ns(kBlockedPauseNs);
        return true;
    }
    [[nodiscard]] bool wait_for_sleeper() const { return wait_for_sleepers(1); }
    [[nodiscard]] std::uint32_t waiters() const {
        return header_ == nullptr ? 0 : header_->waiters.load(std::memory_order_relaxed);
    }

  private:
    const layout::SegmentHeader* header_ = nullptr;
};

}  // namespace framebus::bench
