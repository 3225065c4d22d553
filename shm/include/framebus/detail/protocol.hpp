// Internal: the lock-free protocol itself, one function per step of
// shm/PROTOCOL.md. The Writer and Reader classes add files, mappings, errors
// and statistics around these; the ThreadSanitizer test drives them directly
// over one buffer (TSan only relates accesses at the same virtual address).
//
// Atomics are labelled (W1)..(W4) on the writer's side and (R1)..(R4) on the
// reader's; each comment names the operation it pairs with.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "framebus/detail/sys.hpp"
#include "framebus/frame.hpp"
#include "framebus/layout.hpp"

namespace framebus::detail {

static_assert(kMaxPlanes ==
              sizeof(layout::SlotHeader::planes) / sizeof(layout::SlotHeader::PlaneLayout));

struct ControlView {
    layout::SegmentHeader* header = nullptr;
    layout::SlotHeader* slots = nullptr;
    layout::ReaderEntry* readers = nullptr;
};

inline ControlView control_view(std::byte* base, std::uint32_t slot_count) {
    ControlView v;
    v.header = reinterpret_cast<layout::SegmentHeader*>(base);
    v.slots = reinterpret_cast<layout::SlotHeader*>(base + layout::slots_offset());
    v.readers = reinterpret_cast<layout::ReaderEntry*>(base + layout::readers_offset(slot_count));
    return v;
}

// ---- writer ----------------------------------------------------------------

// Picks a free slot for frame `seq` and marks it WRITING. Never waits.
// `cursor` (the writer's own) makes the search start after the last slot
// taken, which takes the oldest free slot first.
// One pass over the slots is not a snapshot: a reader that releases one
// slot and leases another while the writer scans can be seen holding both.
// At any instant `slots >= max_readers + 2` leaves one slot free, so the
// writer looks again — a bounded number of times: it never waits.
inline constexpr int kAcquirePasses = 4;

inline std::optional<std::uint32_t> acquire_slot(const ControlView& c, std::uint32_t slot_count,
                                                 std::uint64_t seq, std::uint32_t& cursor) {
    // relaxed: only the writer stores `latest`.
    const std::uint64_t latest = c.header->latest.load(std::memory_order_relaxed);
    for (int pass = 0; pass < kAcquirePasses; ++pass) {
        for (std::uint32_t k = 0; k < slot_count; ++k) {
            std::uint32_t i = cursor + k;  // no modulo: a division costs more than the rest
            if (i >= slot_count) i -= slot_count;
            if (latest != 0 && i == layout::latest_slot(latest)) continue;  // readers want it
            layout::SlotHeader& slot = c.slots[i];
            // relaxed: a cheap pre-check; the seq_cst load (W2) decides.
            if (slot.holders.load(std::memory_order_relaxed) != 0) continue;
            // relaxed: only the writer stores `state`.
            const std::uint64_t old_state = slot.state.load(std::memory_order_relaxed);
            // (W1) seq_cst store, then (W2) seq_cst load: the writer's half of a
            // store-then-load handshake with a reader's (R1) fetch_or and (R2)
            // load. In the single total order of seq_cst operations one side
            // sees the other, so the two can never both go ahead on this slot.
            slot.state.store(layout::writing_state(seq), std::memory_order_seq_cst);
            if (slot.holders.load(std::memory_order_seq_cst) != 0) {  // (W2)
                // A reader got in first; nothing was written. release: a reader
                // that then holds the old frame sees its bytes (pairs with (R2)).
                slot.state.store(old_state, std::memory_order_release);
                continue;
            }
            cursor = i + 1 == slot_count ? 0 : i + 1;
            return i;
        }
    }
    return std::nullopt;
}

// What only the writer knows: which slot holds which of its frames. It is
// the only one to change a slot's state, so this record is exact; it costs
// the slot choice no shared cache line.
class SlotHistory {
  public:
    explicit SlotHistory(std::uint32_t slot_count = 0)
        : seq_in_slot_(slot_count, 0), slot_of_seq_(slot_count, 0) {}
    void committed(std::uint32_t slot, std::uint64_t seq) {
        seq_in_slot_[slot] = seq;
        slot_of_seq_[seq % slot_of_seq_.size()] = slot;
    }
    void emptied(std::uint32_t slot) { seq_in_slot_[slot] = 0; }
    [[nodiscard]] std::uint64_t sequence_in(std::uint32_t slot) const { return seq_in_slot_[slot]; }
    // The slot still holding frame `seq`, if the record has it.
    [[nodiscard]] std::optional<std::uint32_t> slot_of(std::uint64_t seq) const {
        if (seq == 0 || slot_of_seq_.empty()) return std::nullopt;
        const std::uint32_t i = slot_of_seq_[seq % slot_of_seq_.size()];
        if (seq_in_slot_[i] != seq) return std::nullopt;
        return i;
    }

  private:
    std::vector<std::uint64_t> seq_in_slot_;  // 0: empty or abandoned
    std::vector<std::uint32_t> slot_of_seq_;  // by seq % slot_count
};

// The newest frame every attached reader has leased: `next()` never returns
// it or an older one again, so overwriting it costs no reader a frame. A
// reader that has leased nothing yet has stored the frame it starts after
// (just before the newest at its open), so a new reader does not stop the hot
// choice until its first lease. `last_sequence` is the reader's own relaxed
// statistic: a stale value is a lower one, which only makes the choice more
// careful. No reader: `if_none` (0 keeps the ring's history; `newest` lets
// a reuse_newest writer overwrite a frame nobody reads).
inline std::uint64_t consumed_sequence(const ControlView& c, std::uint32_t max_readers,
                                       std::uint64_t newest, std::uint64_t if_none = 0) {
    std::uint64_t consumed = newest;
    bool any_reader = false;
    for (std::uint32_t r = 0; r < max_readers && consumed != 0; ++r) {
        const layout::ReaderEntry& e = c.readers[r];
        // acquire: pairs with the reader's release store of its pid at
        // claim_entry, so the `last_sequence` below is at least its start,
        // never a previous owner's. pid 0 is a free entry.
        if (e.pid.load(std::memory_order_acquire) == 0) continue;
        any_reader = true;
        consumed = std::min(consumed, e.last_sequence.load(std::memory_order_relaxed));
    }
    return any_reader ? consumed : if_none;
}

// (W1) + (W2) on one slot, exactly as in acquire_slot: true if it is ours.
inline bool try_take_slot(const ControlView& c, std::uint32_t i, std::uint64_t seq) {
    layout::SlotHeader& slot = c.slots[i];
    // relaxed: a cheap pre-check; the handshake decides.
    if (slot.holders.load(std::memory_order_relaxed) != 0) return false;
    // relaxed: only the writer stores `state`.
    const std::uint64_t old_state = slot.state.load(std::memory_order_relaxed);
    slot.state.store(layout::writing_state(seq), std::memory_order_seq_cst);  // (W1)
    if (slot.holders.load(std::memory_order_seq_cst) == 0) return true;       // (W2)
    slot.state.store(old_state, std::memory_order_release);                   // as in acquire_slot
    return false;
}

// The writer's slot choice for frame `seq` (PROTOCOL.md, "Writing a frame"):
//  0. reuse_newest only: the newest frame's slot, if every reader has leased
//     that frame (or none is attached) and none holds it ("Reusing the
//     newest slot");
//  1. the most recently written slot whose frame every reader is past: hot
//     in the cache (written a moment ago, read a moment ago) and no loss;
//  2. else the free slot with the oldest frame, an empty slot first;
//  3. else (readers raced us on every candidate) acquire_slot's search.
// Never waits.
inline std::optional<std::uint32_t> acquire_hot_slot(const ControlView& c, std::uint32_t slot_count,
                                                     std::uint32_t max_readers, std::uint64_t seq,
                                                     std::uint32_t& cursor,
                                                     const SlotHistory& history,
                                                     bool reuse_newest = false) {
    // relaxed: only the writer stores `latest`.
    const std::uint64_t latest = c.header->latest.load(std::memory_order_relaxed);
    const std::uint64_t newest = layout::latest_sequence(latest);
    const std::uint32_t latest_slot = latest != 0 ? layout::latest_slot(latest) : slot_count;
    // relaxed holders: a pre-check (a reader still holding the newest frame
    // is the common reason not to reuse it); the handshake decides.
    if (reuse_newest && latest_slot < slot_count &&
        c.slots[latest_slot].holders.load(std::memory_order_relaxed) == 0 &&
        consumed_sequence(c, max_readers, newest, newest) == newest) {
        // (W0) seq_cst, before (W1): a reader whose (R2) sees the slot
        // WRITING then loads this (or a later) `latest`, never the old word
        // again, so hold_latest's "failed twice on the same word" still means
        // corruption. Not restored if the take fails (a reader raced us for
        // it): latest() finds nothing until the next commit.
        c.header->latest.store(layout::pack_latest(newest, layout::kRewritingSlot),
                               std::memory_order_seq_cst);
        if (try_take_slot(c, latest_slot, seq)) return latest_slot;
    }
    if (newest > 1) {
        const std::uint64_t consumed = consumed_sequence(c, max_readers, newest - 1);
        // Newest first, over at most one ring's worth of frames.
        const std::uint64_t oldest = newest > slot_count ? newest - slot_count : 0;
        for (std::uint64_t s = consumed; s > oldest; --s) {
            const auto i = history.slot_of(s);
            if (i && *i != latest_slot && try_take_slot(c, *i, seq)) return *i;
        }
    }
    // Oldest first: candidates in increasing (sequence, index) order.
    std::uint64_t after_seq = 0;
    std::uint32_t after_index = slot_count;  // nothing tried yet
    for (;;) {
        std::uint32_t best = slot_count;
        std::uint64_t best_seq = 0;
        for (std::uint32_t i = 0; i < slot_count; ++i) {
            const std::uint64_t s = history.sequence_in(i);
            const bool untried =
                after_index == slot_count || s > after_seq || (s == after_seq && i > after_index);
            if (!untried || i == latest_slot || (best != slot_count && s >= best_seq)) continue;
            // relaxed: skip held slots before trying the handshake on them.
            if (c.slots[i].holders.load(std::memory_order_relaxed) != 0) continue;
            best = i;
            best_seq = s;
        }
        if (best == slot_count) break;
        if (try_take_slot(c, best, seq)) return best;
        after_seq = best_seq;
        after_index = best;
    }
    return acquire_slot(c, slot_count, seq, cursor);
}

// Publishes the frame written into slot i. One futex wake if, and only if,
// a reader is blocked; otherwise no system call. Touches the slot's two lines
// and the header's publication line, nothing else.
inline void commit_slot(const ControlView& c, std::uint32_t i, std::uint64_t seq,
                        const FrameFormat& format, std::int64_t capture_ns,
                        std::int64_t publish_ns) {
    layout::SlotHeader& slot = c.slots[i];
    // Plain stores: the slot is WRITING and unheld, no reader reads these now.
    slot.width = format.width;
    slot.height = format.height;
    slot.cv_type = format.cv_type;
    slot.pixel_format = static_cast<std::uint32_t>(format.pixel_format);
    slot.bytes = format.bytes();
    slot.capture_ns = capture_ns;
    slot.publish_ns = publish_ns;
    slot.plane_count = format.plane_count;
    for (std::uint32_t p = 0; p < kMaxPlanes; ++p)
        slot.planes[p] = {format.planes[p].offset, format.planes[p].stride};
    // release: pairs with the reader's (R2); whoever sees `seq` in state sees
    // the pixels and the description above.
    slot.state.store(layout::committed_state(seq), std::memory_order_release);
    // release: pairs with the reader's acquire load of `latest`.
    c.header->latest.store(layout::pack_latest(seq, i), std::memory_order_release);
    // (W3) seq_cst RMW, then (W4) seq_cst load: pairs with a waiting reader's
    // (R3) increment of waiters and (R4) load of the word. Either we see its
    // increment and wake it, or it sees our bump and FUTEX_WAIT returns at once.
    c.header->publish_futex.fetch_add(1, std::memory_order_seq_cst);
    if (c.header->waiters.load(std::memory_order_seq_cst) != 0)  // (W4)
        sys::futex_wake_all(&c.header->publish_futex);
}

// The description a reader copies out of slot i under its lease. Plain loads:
// the lease (R2's acquire) orders them after commit's stores.
inline FrameFormat slot_format(const layout::SlotHeader& slot) {
    FrameFormat f;
    f.width = slot.width;
    f.height = slot.height;
    f.cv_type = slot.cv_type;
    f.pixel_format = static_cast<PixelFormat>(slot.pixel_format);  // frame_fits checks the range
    f.plane_count = slot.plane_count;
    for (std::uint32_t p = 0; p < kMaxPlanes; ++p)
        f.planes[p] = Plane{slot.planes[p].offset, slot.planes[p].stride};
    return f;
}

// Gives slot i up without publishing: 0 means empty, never leased.
inline void abandon_slot(const ControlView& c, std::uint32_t i) {
    // release: pairs with (R2) like a commit.
    c.slots[i].state.store(0, std::memory_order_release);
}

inline void set_writer_state(const ControlView& c, layout::WriterState state) {
    // release: pairs with the reader's acquire load in writer_state(); who
    // sees the new state sees every frame committed before it.
    c.header->writer_state.store(static_cast<std::uint32_t>(state), std::memory_order_release);
    c.header->publish_futex.fetch_add(1, std::memory_order_seq_cst);  // as (W3)
    sys::futex_wake_all(&c.header->publish_futex);                    // rare: wake unconditionally
}

// ---- reader ----------------------------------------------------------------

// (R1) + (R2): the reader's half of the handshake with (W1) + (W2). True if
// slot i holds exactly frame `seq`, committed, and is now held by `bit`.
// `already_held`: this reader holds slot i under another lease, so its bit is
// set, must stay set, and the writer cannot have the slot.
inline bool try_hold(const ControlView& c, std::uint32_t i, std::uint64_t seq, std::uint64_t bit,
                     bool already_held = false) {
    layout::SlotHeader& slot = c.slots[i];
    if (already_held)  // acquire: pairs with commit's release store, like (R2)
        return slot.state.load(std::memory_order_acquire) == layout::committed_state(seq);
    slot.holders.fetch_or(bit, std::memory_order_seq_cst);  // (R1)
    // (R2) seq_cst: also an acquire that pairs with commit's release store of
    // state, so the frame's bytes and description are visible.
    if (slot.state.load(std::memory_order_seq_cst) == layout::committed_state(seq)) return true;
    // The writer has the slot. release: pairs with its (W2).
    slot.holders.fetch_and(~bit, std::memory_order_release);
    return false;
}

inline void release_hold(const ControlView& c, std::uint32_t i, std::uint64_t bit) {
    // release: our reads of the frame happen before the writer, whose (W2)
    // then sees the bit gone, overwrites the slot.
    c.slots[i].holders.fetch_and(~bit, std::memory_order_release);
}

struct Held {
    std::uint32_t slot;
    std::uint64_t seq;
};
enum class HoldError { none, no_frame, corrupt, overtaken };

// Which slots this reader already holds under another lease (a count per
// slot, or nullptr when it holds none).
using HeldCounts = const std::uint8_t*;
inline bool is_held(HeldCounts held, std::uint32_t i) {
    return held != nullptr && held[i] != 0;
}

// Holds the newest committed frame.
inline std::optional<Held> hold_latest(const ControlView& c, std::uint32_t slot_count,
                                       std::uint64_t bit, HeldCounts held, HoldError& error) {
    std::uint64_t previous = 0;
    for (int attempt = 0; attempt < 100'000; ++attempt) {
        // acquire: pairs with commit's release store of latest.
        const std::uint64_t latest = c.header->latest.load(std::memory_order_acquire);
        if (latest == 0) return error = HoldError::no_frame, std::nullopt;
        const std::uint64_t seq = layout::latest_sequence(latest);
        const std::uint32_t i = layout::latest_slot(latest);
        // The newest frame is being overwritten (a reuse_newest writer).
        if (i == layout::kRewritingSlot) return error = HoldError::no_frame, std::nullopt;
        if (i >= slot_count) return error = HoldError::corrupt, std::nullopt;  // untrusted
        if (try_hold(c, i, seq, bit, is_held(held, i))) return Held{i, seq};
        // The writer takes the latest slot only after storing kRewritingSlot
        // in `latest` (W0), so failing twice on the same word means the
        // segment is not behaving.
        if (latest == previous) return error = HoldError::corrupt, std::nullopt;
        previous = latest;
    }
    return error = HoldError::overtaken, std::nullopt;
}

inline std::uint64_t published_sequence(const ControlView& c);

// Holds the oldest committed frame newer than `after`.
inline std::optional<Held> hold_next(const ControlView& c, std::uint32_t slot_count,
                                     std::uint64_t after, std::uint64_t bit, HeldCounts held,
                                     HoldError& error) {
    for (int attempt = 0; attempt < 100'000; ++attempt) {
        // A slot is committed before `latest` names it, so a real sequence is
        // at most one past latest's; a bigger one is forged (PROTOCOL.md
        // "Trust") and would make this reader skip every later frame.
        const std::uint64_t newest = published_sequence(c) + 1;
        std::uint64_t best = 0;
        std::uint32_t best_slot = 0;
        for (std::uint32_t i = 0; i < slot_count; ++i) {
            // relaxed: a candidate only; try_hold's (R2) decides.
            const std::uint64_t state = c.slots[i].state.load(std::memory_order_relaxed);
            if (state == 0 || (state & layout::kWriting) != 0) continue;
            const std::uint64_t seq = state >> 1;
            if (seq > after && seq <= newest && (best == 0 || seq < best)) {
                best = seq;
                best_slot = i;
            }
        }
        if (best == 0) return error = HoldError::no_frame, std::nullopt;
        if (try_hold(c, best_slot, best, bit, is_held(held, best_slot)))
            return Held{best_slot, best};
    }
    return error = HoldError::overtaken, std::nullopt;
}

inline std::uint64_t published_sequence(const ControlView& c) {
    // acquire: pairs with commit's release store of latest.
    return layout::latest_sequence(c.header->latest.load(std::memory_order_acquire));
}

inline layout::WriterState writer_state(const ControlView& c) {
    // acquire: pairs with set_writer_state's release store.
    return static_cast<layout::WriterState>(c.header->writer_state.load(std::memory_order_acquire));
}

// The raw writer_state word: a value outside WriterState is corruption,
// which callers treat as `live` (PROTOCOL.md "Trust").
inline std::uint32_t writer_state_word(const ControlView& c) {
    // acquire: pairs with set_writer_state's release store.
    return c.header->writer_state.load(std::memory_order_acquire);
}

enum class Woken { newer, state_changed, spurious, quiet };

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// The adaptive wait's first phase: busy-polls (no system call: the clock is
// read through the vDSO, every 64 polls) until a frame newer than `after`
// is published, the writer state changes, or `spin_ns` passes. True if
// something happened.
inline bool spin_for_newer(const ControlView& c, std::uint64_t after, std::int64_t spin_ns) {
    const std::int64_t until = now_ns() + spin_ns;
    for (std::uint32_t polls = 1;; ++polls) {
        if (published_sequence(c) > after || writer_state(c) != layout::WriterState::live)
            return true;
        cpu_relax();
        if ((polls & 63) == 0 && now_ns() >= until) return false;
    }
}

// Sleeps on the futex until a frame newer than `after` is published, the
// writer state word moves away from `settled_state`, or timeout_ns passes
// quietly. A wake-up is never a frame: the caller loops on `spurious` and
// reads the newest sequence itself. `settled_state` is the word the caller
// has already judged (live, or a value it found forged or unknown): waiting
// on it, instead of returning at once, keeps a forged word from becoming a
// hot loop.
inline Woken wait_for_newer(
    const ControlView& c, std::uint64_t after, std::int64_t timeout_ns,
    std::uint32_t settled_state = static_cast<std::uint32_t>(layout::WriterState::live)) {
    auto newer = [&] { return published_sequence(c) > after; };
    auto changed = [&] { return writer_state_word(c) != settled_state; };
    if (newer()) return Woken::newer;
    if (changed()) return Woken::state_changed;
    // (R3) seq_cst: pairs with the writer's (W4) load of waiters.
    c.header->waiters.fetch_add(1, std::memory_order_seq_cst);
    // (R4) seq_cst: pairs with the writer's (W3) bump of the word.
    const std::uint32_t word = c.header->publish_futex.load(std::memory_order_seq_cst);
    bool woke = true;
    // Re-check after reading the word: a publish between the first check and
    // (R4) would otherwise be slept through.
    if (!newer() && !changed()) woke = sys::futex_wait(&c.header->publish_futex, word, timeout_ns);
    // relaxed: a count only; a stale non-zero costs the writer one extra wake.
    c.header->waiters.fetch_sub(1, std::memory_order_relaxed);
    if (newer()) return Woken::newer;
    if (changed()) return Woken::state_changed;
    return woke ? Woken::spurious : Woken::quiet;
}

}  // namespace framebus::detail
