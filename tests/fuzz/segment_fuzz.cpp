// libFuzzer target for the code that every reader and the CLI run on the
// untrusted bytes of a segment (DESIGN.md guarantee 8): header validation,
// the control-region parser, the health verdict, and a frame's stamp check
// over a slot the parser accepted. Any input must give an error value or a
// valid view: never a crash, a hang, or a read out of bounds.
//
// Input encoding (see make_corpus.cpp, which writes seeds in it):
//   bytes 0..7  object_size, little-endian: the real size of the object the
//               bytes came from. 0 means "exactly the size the header claims"
//               (header bytes 16..23), so mutations of the counts keep the
//               object consistent and the fuzzer gets past the size check.
//   bytes 8..   the first bytes of the object (its control region, usually).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "framebus/detail/segment.hpp"
#include "framebus/inspect.hpp"
#include "framebus/layout.hpp"
#include "framebus/stamp.hpp"

namespace {

constexpr std::size_t kSizePrefix = 8;
constexpr std::size_t kTotalSizeOffset = offsetof(framebus::layout::SegmentHeader, total_size);
// Slots bigger than this are not stamp-checked: a checksum walks the whole
// frame, and the fuzzer must stay fast; the bounds logic is the same for
// small slots (the corpus has slots of 1 KiB to 4 KiB).
constexpr std::uint64_t kMaxCheckedSlot = 64 * 1024;

std::uint64_t load_u64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Does the parser's verdict hold up? Everything it accepted must be inside
// the bounds it claims; a violation is a parser bug, reported as a crash.
void check_view(const framebus::SegmentView& view, std::uint64_t object_size) {
    using namespace framebus;
    if (view.total_size != object_size || view.data_offset > view.total_size ||
        view.slot_count != view.slots.size() || view.readers.size() > view.max_readers ||
        view.slot_capacity > view.slot_stride ||
        view.data_offset + std::uint64_t{view.slot_count} * view.slot_stride > view.total_size)
        __builtin_trap();
    for (const SlotView& slot : view.slots) {
        if (slot.sequence == 0 || slot.writing) continue;
        if (slot.format.bytes() > view.slot_capacity) __builtin_trap();
    }
    // The verdict a CLI prints: untrusted heartbeat against a real clock.
    SegmentView alive = view;
    alive.writer_alive = true;
    (void)health_of(alive, now_ns());
    (void)health_of(alive, std::numeric_limits<std::int64_t>::max());

    // What `framebus-reader --verify` does under a lease: check the stamp of
    // a frame whose description the validation accepted. The slot is placed
    // at the very end of a heap buffer, so ASan reports any read past it.
    if (view.slot_capacity > kMaxCheckedSlot) return;
    static std::vector<std::byte> buffer(kMaxCheckedSlot, std::byte{0x5a});
    std::byte* const frame = buffer.data() + buffer.size() - view.slot_capacity;
    for (const SlotView& slot : view.slots) {
        if (slot.sequence == 0 || slot.writing) continue;
        const FrameFormat& f = slot.format;
        if (f.width == 0 || f.height == 0) continue;  // the reader refuses these too
        // A well-formed stamp header, so the check goes on to the checksum
        // of every row (the part that walks the frame).
        if (view.slot_capacity >= kStampBytes) {
            const std::uint64_t number = slot.sequence, inverse = ~number;
            std::memcpy(frame, &number, 8);
            std::memcpy(frame + 8, &inverse, 8);
        }
        (void)check_stamp(frame, f);
    }
}

// The reader's and writer's decisions over the same untrusted control
// region (issue 15): leasing the newest or the next frame, choosing a slot,
// and one wait, on a private, aligned copy. Each must end (bounded loops;
// libFuzzer's -timeout catches a hang), name a slot inside the ring, and
// never lease a sequence newer than `latest` allows.
void run_decisions(std::span<const std::byte> bytes, const framebus::SegmentView& view) {
    using namespace framebus;
    const std::size_t control = layout::control_size(view.slot_count, view.max_readers);
    if (bytes.size() < control) return;
    static std::vector<std::uint64_t> region;  // 8-byte aligned for the atomics
    region.assign((control + 7) / 8, 0);
    std::memcpy(region.data(), bytes.data(), control);
    const detail::ControlView c =
        detail::control_view(reinterpret_cast<std::byte*>(region.data()), view.slot_count);
    const std::uint64_t published = detail::published_sequence(c);
    detail::HoldError error = detail::HoldError::none;
    if (auto held = detail::hold_latest(c, view.slot_count, 1, nullptr, error))
        if (held->slot >= view.slot_count) __builtin_trap();
    for (std::uint64_t after : {std::uint64_t{0}, published / 2, published}) {
        error = detail::HoldError::none;
        if (auto held = detail::hold_next(c, view.slot_count, after, 2, nullptr, error)) {
            if (held->slot >= view.slot_count || held->seq <= after) __builtin_trap();
            if (held->seq > detail::published_sequence(c) + 1) __builtin_trap();
        }
    }
    std::uint32_t cursor = 0;
    if (auto slot = detail::acquire_slot(c, view.slot_count, published + 1, cursor))
        if (*slot >= view.slot_count) __builtin_trap();
    // A wait that times out at once: whatever the state word holds, it returns.
    (void)detail::wait_for_newer(c, published, 0, detail::writer_state_word(c));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < kSizePrefix) return 0;
    std::uint64_t object_size = load_u64(data);
    // libFuzzer's buffer ends exactly at data + size: reads past it are caught.
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + kSizePrefix),
                                           size - kSizePrefix);
    if (object_size == 0 && bytes.size() >= kTotalSizeOffset + 8)
        object_size = load_u64(data + kSizePrefix + kTotalSizeOffset);

    auto header = framebus::detail::read_header(bytes, object_size, "fuzz");
    auto view = framebus::parse_segment(bytes, object_size);
    // The parser validates with read_header first: they must agree on "bad".
    if (!header && view) __builtin_trap();
    if (view) {
        check_view(*view, object_size);
        run_decisions(bytes, *view);
    }
    return 0;
}
