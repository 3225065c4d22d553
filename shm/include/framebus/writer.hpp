// The writer side of the bus (DESIGN.md guarantees 1, 2, 6, 9, 10, 11).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "framebus/error.hpp"
#include "framebus/frame.hpp"

namespace framebus {

namespace detail {
struct WriterImpl;
}

struct WriterOptions {
    std::string name = "framebus";
    std::uint32_t max_readers = 8;        // 1..64
    std::uint32_t leases_per_reader = 2;  // 1..16: leases one reader may hold at once
    // 0: max_readers * leases_per_reader + 2, the count that never drops a frame.
    std::uint32_t slots = 0;
    std::uint64_t slot_capacity = 0;  // bytes; 0: initial_format.bytes()
    FrameFormat initial_format{};     // only sizes the slots
    std::uint32_t mode = 0600;        // permission bits of the object
    bool keep = false;                // leave the segment behind on close
    // Overwrite the newest frame's slot once every attached reader has leased
    // that frame and none still holds it (or no reader is attached), instead
    // of always keeping the newest frame readable: with readers keeping up,
    // one slot stays hot in the cache, as an iceoryx chunk does. latest()
    // finds no frame while that slot is rewritten, and the ring keeps no
    // history for tools. No reader loses a frame `next()` would return
    // (PROTOCOL.md "Reusing the newest slot").
    bool reuse_newest = false;
    // How often the writer's own upkeep thread stores the heartbeat and
    // reclaims the leases of dead readers, whether frames flow or not
    // (PROTOCOL.md "Upkeep"). Zero turns the thread off.
    std::chrono::milliseconds upkeep_interval{1000};
};

// A slot being written. RAII: destroyed without commit(), the slot is
// abandoned (marked empty), never published half-written. It shares ownership
// of its segment's mapping: a slot that outlives its Writer (destroyed,
// moved-from, closed) stays valid memory, and committing it then discards
// the frame.
class [[nodiscard]] WriteSlot {
  public:
    // Inline: a slot is moved out of acquire()'s Result on every frame.
    WriteSlot(WriteSlot&& other) noexcept
        : owner_(std::move(other.owner_)),
          data_(other.data_),
          capacity_(other.capacity_),
          format_(other.format_),
          sequence_(other.sequence_),
          slot_(other.slot_) {}
    WriteSlot& operator=(WriteSlot&& other) noexcept;
    WriteSlot(const WriteSlot&) = delete;
    WriteSlot& operator=(const WriteSlot&) = delete;
    ~WriteSlot() {
        if (owner_ != nullptr) abandon();
    }

    [[nodiscard]] std::byte* data() const { return data_; }  // the slot's start
    [[nodiscard]] std::byte* plane(std::uint32_t p) const {
        return data_ + format_.planes[p].offset;
    }
    [[nodiscard]] std::uint64_t capacity() const { return capacity_; }
    [[nodiscard]] const FrameFormat& format() const { return format_; }
    [[nodiscard]] std::uint64_t sequence() const { return sequence_; }
    [[nodiscard]] std::uint32_t slot_index() const { return slot_; }

    // Change the description before commit (e.g. the decoder produced another
    // shape that still fits). Fails with frame_too_large when it does not fit.
    Status set_format(const FrameFormat& format);

    // Publish the frame. capture_ns == 0 means "now". No allocation, no lock,
    // no system call unless a reader is blocked waiting (then one futex wake).
    void commit(std::int64_t capture_ns = 0);

    // Give the slot up without publishing (also what the destructor does).
    void abandon();

  private:
    friend struct detail::WriterImpl;
    WriteSlot(std::shared_ptr<detail::WriterImpl> owner, std::byte* data, std::uint64_t capacity,
              const FrameFormat& format, std::uint64_t sequence, std::uint32_t slot)
        : owner_(std::move(owner)),
          data_(data),
          capacity_(capacity),
          format_(format),
          sequence_(sequence),
          slot_(slot) {}

    std::shared_ptr<detail::WriterImpl> owner_;
    std::byte* data_ = nullptr;
    std::uint64_t capacity_ = 0;
    FrameFormat format_{};
    std::uint64_t sequence_ = 0;
    std::uint32_t slot_ = 0;
};

struct WriterStats {
    std::uint64_t published = 0;
    std::uint64_t dropped = 0;        // acquire() found no free slot
    std::uint64_t replaced = 0;       // segment replacements for frames that did not fit
    std::uint64_t reclaimed = 0;      // leases of dead readers taken back
    std::uint64_t newest_reused = 0;  // reuse_newest: frames written over the one before
};

class Writer {
  public:
    // Creates the segment, or takes the name over from a dead writer. Fails with
    // live_writer (naming its pid), not_framebus / corrupt (the object is left
    // alone), no_space (nothing left behind), invalid_name, invalid_argument.
    [[nodiscard]] static Result<Writer> create(const WriterOptions& options);

    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) noexcept;
    ~Writer();  // close()

    // A free slot for a frame of this format; never waits. If the frame does
    // not fit the slot capacity, the segment is replaced by a larger one first
    // (system calls and allocation, once per such shape change).
    // Errc::no_free_slot: the frame is dropped and counted.
    [[nodiscard]] Result<WriteSlot> acquire(const FrameFormat& format);

    void end_of_stream();  // readers see WriterState::end_of_stream

    // What the upkeep thread does on its own; callable by hand (tests, or with
    // upkeep_interval = 0). System calls: never on the hot path.
    void heartbeat();                    // "still here"
    std::size_t reclaim_dead_readers();  // leases of readers whose process is gone

    [[nodiscard]] std::uint32_t readers_attached() const;  // no system call

    // Capture on demand (PROTOCOL.md "Attaching wakes the writer"): sleeps
    // on the segment's attach futex until a reader is attached or `timeout`
    // passes; true if one is. A system call: not for the hot path.
    [[nodiscard]] bool wait_for_reader(std::chrono::nanoseconds timeout);
    // Tells tools the source is closed until a reader attaches (`framebus ls`: idle).
    void set_idle(bool idle);
    [[nodiscard]] WriterStats stats() const;
    [[nodiscard]] const std::string& name() const;
    [[nodiscard]] std::uint64_t slot_capacity() const;
    [[nodiscard]] std::uint32_t slot_count() const;
    [[nodiscard]] std::uint32_t max_readers() const;
    [[nodiscard]] std::uint32_t leases_per_reader() const;

    // Marks end of stream and unlinks the name (unless keep). Idempotent.
    void close();

  private:
    explicit Writer(std::shared_ptr<detail::WriterImpl> impl);
    std::shared_ptr<detail::WriterImpl> impl_;
};

}  // namespace framebus
