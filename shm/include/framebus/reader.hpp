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
struct Attachment;
struct ReaderImpl;
}  // namespace detail

// A reader's hold on one slot. While it lives the writer will not touch the
// slot; data() is read-only memory (a write through it faults). A Lease shares
// ownership of the segment's mapping and of the reader's entry in it, so it
// stays valid after its Reader is destroyed, moved, closed or has followed
// the name to another segment: the slot is given back when the Lease goes.
// Not thread-safe: see Reader.
class [[nodiscard]] Lease {
  public:
    Lease(Lease&& other) noexcept  // inline: moved out of latest()'s Result per frame
        : owner_(std::move(other.owner_)),
          data_(other.data_),
          info_(other.info_),
          slot_(other.slot_) {}
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }

    [[nodiscard]] const std::byte* data() const { return data_; }  // the slot's start
    [[nodiscard]] const std::byte* plane(std::uint32_t p) const {
        return data_ + info_.format.planes[p].offset;
    }
    [[nodiscard]] const FrameInfo& info() const { return info_; }
    [[nodiscard]] const FrameFormat& format() const { return info_.format; }
    [[nodiscard]] std::uint64_t sequence() const { return info_.sequence; }
    [[nodiscard]] std::uint32_t slot_index() const { return slot_; }
    [[nodiscard]] bool held() const { return owner_ != nullptr; }

    void release();  // gives the slot back; idempotent

  private:
    friend struct detail::ReaderImpl;
    Lease(std::shared_ptr<detail::Attachment> owner, const std::byte* data, const FrameInfo& info,
          std::uint32_t slot)
        : owner_(std::move(owner)), data_(data), info_(info), slot_(slot) {}

    std::shared_ptr<detail::Attachment> owner_;
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
    followed,       // (follow) the reader switched to the segment now under the name
};
[[nodiscard]] const char* to_string(WaitStatus status);

struct ReaderOptions {
    // How long open() waits for the segment to appear; 0 fails at once.
    std::chrono::milliseconds wait_for_segment{0};
    // Follow the name: through segment replacements (a bigger frame) and to
    // a new writer after the old one died or ended its stream. wait() then
    // never returns `replaced`; after `writer_gone` or `end_of_stream` the
    // next wait() calls look for a new segment under the name (every 200 ms)
    // and return `followed` when they switch. Totals carry across.
    bool follow = false;
};

// One reader of one segment name. Not thread-safe: serialise every call on a
// Reader, and the release (destruction) of its Leases, on one thread at a
// time (Python's GIL does it; a GStreamer element takes its lock).
class Reader {
  public:
    // Opens and validates the segment, and claims a reader entry.
    [[nodiscard]] static Result<Reader> open(const std::string& name,
                                             const ReaderOptions& options = {});

    Reader(Reader&&) noexcept;
    Reader& operator=(Reader&&) noexcept;
    ~Reader();

    // The newest committed frame. no_frame if nothing is published yet.
    // lease_held if this reader already holds max_leases() leases (what keeps
    // the writer from ever running out of slots: PROTOCOL.md "The lease rule").
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
    // one), switch to it. Returns true if it switched. Leases still out keep
    // their old segment until released.
    [[nodiscard]] Result<bool> follow();

    // Detaches from the segment; leases still out keep their slot until
    // released. Every other call fails (or reports end of stream) afterwards.
    void close();
    [[nodiscard]] bool is_open() const;

    [[nodiscard]] std::uint32_t max_leases() const;       // the segment's leases per reader
    [[nodiscard]] std::uint32_t leases_held() const;      // by this reader, now
    [[nodiscard]] std::uint64_t last_sequence() const;    // of the last lease, this segment
    [[nodiscard]] std::uint64_t frames() const;           // leases taken, every segment
    [[nodiscard]] std::uint64_t skipped() const;          // sequence gaps, every segment
    [[nodiscard]] std::uint64_t writer_restarts() const;  // follows to another writer
    [[nodiscard]] std::uint64_t follows() const;          // segments switched to
    [[nodiscard]] std::uint64_t latest_sequence() const;  // published so far
    [[nodiscard]] std::uint32_t reader_index() const;
    [[nodiscard]] std::uint32_t writer_pid() const;
    [[nodiscard]] const std::string& name() const;

  private:
    explicit Reader(std::unique_ptr<detail::ReaderImpl> impl);
    std::unique_ptr<detail::ReaderImpl> impl_;
};

}  // namespace framebus
