// The reader side of the bus (DESIGN.md guarantees 1, 3, 4, 5, 7, 8).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "framebus/error.hpp"
#include "framebus/frame.hpp"
#include "framebus/layout.hpp"

namespace framebus {

namespace detail {
struct ReaderImpl;
}

// A reader's hold on one slot. While it lives the writer will not touch the
// slot; data() is read-only memory (a write through it faults).
class [[nodiscard]] Lease {
  public:
    Lease(Lease&& other) noexcept  // inline: moved out of latest()'s Result per frame
        : owner_(std::exchange(other.owner_, nullptr)),
          data_(other.data_),
          info_(other.info_),
          slot_(other.slot_) {}
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }

    [[nodiscard]] const std::byte* data() const { return data_; }
    [[nodiscard]] const FrameInfo& info() const { return info_; }
    [[nodiscard]] const FrameFormat& format() const { return info_.format; }
    [[nodiscard]] std::uint64_t sequence() const { return info_.sequence; }
    [[nodiscard]] std::uint32_t slot_index() const { return slot_; }
    [[nodiscard]] bool held() const { return owner_ != nullptr; }

    void release();  // clears the holder bit; idempotent

  private:
    friend struct detail::ReaderImpl;
    Lease(detail::ReaderImpl* owner, const std::byte* data, const FrameInfo& info,
          std::uint32_t slot)
        : owner_(owner), data_(data), info_(info), slot_(slot) {}

    detail::ReaderImpl* owner_ = nullptr;
    const std::byte* data_ = nullptr;
    FrameInfo info_{};
    std::uint32_t slot_ = 0;
};

enum class WaitStatus {
    frame,  // a frame newer than the last leased one is published
    timed_out,
    end_of_stream,  // the writer marked the end; no newer frame will come
    writer_gone,    // the writer's process is dead (checked at least every 100 ms)
    replaced,       // the name now points at another segment: call follow()
};
[[nodiscard]] const char* to_string(WaitStatus status);

struct ReaderOptions {
    // How long open() waits for the segment to appear; 0 fails at once.
    std::chrono::milliseconds wait_for_segment{0};
};

class Reader {
  public:
    // Opens and validates the segment, and claims a reader entry.
    [[nodiscard]] static Result<Reader> open(const std::string& name,
                                             const ReaderOptions& options = {});

    Reader(Reader&&) noexcept;
    Reader& operator=(Reader&&) noexcept;
    ~Reader();

    // The newest committed frame. no_frame if nothing is published yet.
    // lease_held if this reader still holds a lease (one at a time: that is
    // what keeps `slots >= max_readers + 2` enough for the writer).
    [[nodiscard]] Result<Lease> latest();

    // The oldest frame newer than the last one leased (recording order).
    // Frames that were overwritten before we got to them count as skipped.
    [[nodiscard]] Result<Lease> next();

    // Blocks (futex, no spinning) until a frame newer than the last leased
    // one is published, the state changes, or the timeout runs out.
    [[nodiscard]] WaitStatus wait(std::chrono::nanoseconds timeout);

    // Where the stream stands now (system call: the writer's lock is probed).
    [[nodiscard]] WaitStatus status() const;
    [[nodiscard]] bool writer_alive() const;

    // If the name now points at another segment (a new writer, or a replaced
    // one), switch to it. Returns true if it switched. No lease may be held.
    [[nodiscard]] Result<bool> follow();

    [[nodiscard]] std::uint64_t last_sequence() const;    // of the last lease
    [[nodiscard]] std::uint64_t frames() const;           // leases taken
    [[nodiscard]] std::uint64_t skipped() const;          // sequence gaps
    [[nodiscard]] std::uint64_t latest_sequence() const;  // published so far
    [[nodiscard]] std::uint32_t reader_index() const;
    [[nodiscard]] std::uint32_t writer_pid() const;
    [[nodiscard]] const std::string& name() const;

  private:
    friend class Lease;
    explicit Reader(std::unique_ptr<detail::ReaderImpl> impl);
    std::unique_ptr<detail::ReaderImpl> impl_;
};

}  // namespace framebus
