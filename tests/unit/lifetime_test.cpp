// A Lease or WriteSlot that outlives its Reader or Writer (destroyed,
// moved-from, move-assigned, closed, followed elsewhere) stays valid memory:
// it shares ownership of the segment. Run under ASan (scripts/sanitize.sh),
// a use-after-free here is a failure even where the bytes happen to survive.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "framebus/inspect.hpp"
#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

#include "allocation_counter.hpp"

namespace framebus {
namespace {

const FrameFormat kFormat = FrameFormat::packed(64, 16, PixelFormat::bgr24);

struct Bus {
    explicit Bus(const char* tag) : name(test::unique_name(tag)) {
        WriterOptions options;
        options.name = name;
        options.max_readers = 2;
        options.initial_format = kFormat;
        options.upkeep_interval = std::chrono::milliseconds(0);
        auto w = Writer::create(options);
        EXPECT_TRUE(w) << w.error().message;
        writer.emplace(std::move(*w));
    }
    Reader reader() const {
        auto r = Reader::open(name);
        EXPECT_TRUE(r) << r.error().message;
        return std::move(*r);
    }
    void publish(const FrameFormat& format = kFormat) {
        auto slot = writer->acquire(format);
        ASSERT_TRUE(slot) << slot.error().message;
        test::fill_frame(slot->data(), format.bytes(), slot->sequence());
        slot->commit();
    }
    std::size_t readers_attached() const { return inspect(name)->readers.size(); }
    std::string name;
    std::optional<Writer> writer;
};

// The lease is intact and gives its slot back when it goes.
void expect_intact_then_released(Lease& lease, std::uint64_t sequence, const Bus& bus) {
    EXPECT_EQ(test::check_frame(lease.data(), kFormat.bytes(), sequence), 0u);
    lease.release();
    EXPECT_FALSE(lease.held());
    EXPECT_EQ(bus.readers_attached(), 0u) << "the reader entry went with the last lease";
}

TEST(Lifetime, ALeaseOutlivesItsReader) {
    Bus bus("life-destroyed");
    bus.publish();
    auto reader = std::make_unique<Reader>(bus.reader());
    auto lease = reader->latest();
    ASSERT_TRUE(lease);
    reader.reset();
    EXPECT_EQ(bus.readers_attached(), 1u) << "the lease still holds the entry";
    expect_intact_then_released(*lease, 1, bus);
}

TEST(Lifetime, ALeaseOutlivesAMovedFromAndAMoveAssignedReader) {
    Bus bus("life-moved");
    bus.publish();
    std::optional<Reader> first(bus.reader());
    auto lease = first->latest();
    ASSERT_TRUE(lease);
    std::optional<Reader> second(std::move(*first));  // first is moved-from
    first.reset();
    *second = bus.reader();  // move-assigned: its old attachment is let go
    second.reset();
    EXPECT_EQ(bus.readers_attached(), 1u);
    expect_intact_then_released(*lease, 1, bus);
}

TEST(Lifetime, ALeaseOutlivesAClosedReader) {
    Bus bus("life-closed");
    bus.publish();
    Reader reader = bus.reader();
    auto lease = reader.latest();
    ASSERT_TRUE(lease);
    reader.close();
    EXPECT_FALSE(reader.is_open());
    EXPECT_EQ(reader.latest().error().code, Errc::invalid_argument);
    EXPECT_EQ(reader.wait(std::chrono::milliseconds(0)), WaitStatus::end_of_stream);
    expect_intact_then_released(*lease, 1, bus);
}

TEST(Lifetime, ALeaseOfAnOldSegmentOutlivesFollowingTheName) {
    Bus bus("life-follow");
    bus.publish();
    ReaderOptions options;
    options.follow = true;
    auto reader = Reader::open(bus.name, options);
    ASSERT_TRUE(reader);
    auto old_lease = reader->latest();
    ASSERT_TRUE(old_lease);
    // A bigger frame replaces the segment; the reader follows with the lease out.
    const FrameFormat bigger = FrameFormat::packed(128, 32, PixelFormat::bgr24);
    bus.publish(bigger);
    EXPECT_EQ(reader->wait(std::chrono::seconds(1)), WaitStatus::followed);
    auto new_lease = reader->latest();
    ASSERT_TRUE(new_lease) << new_lease.error().message;
    EXPECT_EQ(new_lease->format(), bigger);
    EXPECT_EQ(test::check_frame(old_lease->data(), kFormat.bytes(), 1), 0u);
    old_lease->release();
    new_lease->release();
}

TEST(Lifetime, AWriteSlotOutlivesItsWriter) {
    Bus bus("life-slot");
    auto slot = bus.writer->acquire(kFormat);
    ASSERT_TRUE(slot);
    bus.writer.reset();  // closes: end of stream, the name unlinked
    EXPECT_FALSE(test::segment_exists(bus.name));
    test::fill_frame(slot->data(), kFormat.bytes(), 1);  // still mapped
    slot->commit();                                      // discarded, not published
}

TEST(Lifetime, AWriteSlotOutlivesAMovedFromAndAMoveAssignedWriter) {
    Bus bus("life-slotmove");
    auto slot = bus.writer->acquire(kFormat);
    ASSERT_TRUE(slot);
    Writer moved(std::move(*bus.writer));
    Bus other("life-slotother");
    moved = std::move(*other.writer);  // the first writer closes now
    bus.writer.reset();
    test::fill_frame(slot->data(), kFormat.bytes(), 1);
    slot->abandon();
}

TEST(Lifetime, ACommitAfterCloseIsDiscardedAndReadersSeeTheEnd) {
    Bus bus("life-late");
    Reader reader = bus.reader();
    auto slot = bus.writer->acquire(kFormat);
    ASSERT_TRUE(slot);
    bus.writer->close();
    slot->commit();
    EXPECT_EQ(reader.wait(std::chrono::milliseconds(100)), WaitStatus::end_of_stream);
    EXPECT_EQ(reader.latest().error().code, Errc::no_frame);
}

// Whether this process still maps the segment (under its name or the
// temporary one it was built under): a writer that kept a reference to
// itself would leak its mapping.
bool mapped_here(const std::string& name) {
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);)
        if (line.find("/dev/shm/") != std::string::npos && line.find(name) != std::string::npos)
            return true;
    return false;
}

// A writer keeps a share of itself for its next slot (no reference count
// per frame); that self-reference must not outlive the Writer.
TEST(Lifetime, AWriterThatPublishedIsFreedWhenItGoes) {
    const auto publish_and_close = [] {
        Bus bus("life-free");
        for (int i = 0; i < 3; ++i) bus.publish();
        bus.writer->acquire(kFormat)->abandon();
        bus.writer.reset();
    };
    publish_and_close();  // first-use allocations that stay (static tables) happen here
    const auto live = [] { return test::allocations() - test::deallocations(); };
    const std::uint64_t before = live();
    publish_and_close();
    EXPECT_EQ(live(), before) << "something of the writer was not freed";
}

TEST(Lifetime, AWriteSlotOutAtCloseFreesTheMappingWhenItGoes) {
    Bus bus("life-unmapslot");
    bus.publish();
    auto slot = bus.writer->acquire(kFormat);
    ASSERT_TRUE(slot);
    bus.writer.reset();
    EXPECT_TRUE(mapped_here(bus.name)) << "the slot keeps it mapped";
    slot->commit();
    EXPECT_FALSE(mapped_here(bus.name));
}

}  // namespace
}  // namespace framebus
