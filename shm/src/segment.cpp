#include "framebus/detail/segment.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "framebus/detail/sys.hpp"
#include "framebus/name.hpp"

namespace framebus::detail {

namespace bip = boost::interprocess;
using layout::ReaderEntry;
using layout::SegmentHeader;
using layout::SlotHeader;

template <class T>
T load_field(std::span<const std::byte> bytes, std::size_t offset) {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}
template std::uint8_t load_field<std::uint8_t>(std::span<const std::byte>, std::size_t);
template std::uint32_t load_field<std::uint32_t>(std::span<const std::byte>, std::size_t);
template std::int32_t load_field<std::int32_t>(std::span<const std::byte>, std::size_t);
template std::uint64_t load_field<std::uint64_t>(std::span<const std::byte>, std::size_t);
template std::int64_t load_field<std::int64_t>(std::span<const std::byte>, std::size_t);

Result<Geometry> plan_geometry(std::uint32_t slot_count, std::uint32_t max_readers,
                               std::uint32_t leases_per_reader, std::uint64_t slot_capacity) {
    using namespace layout;
    if (max_readers < 1 || max_readers > kMaxReaders)
        return Error{Errc::invalid_argument, "max readers must be 1.." +
                                                 std::to_string(kMaxReaders) + ", not " +
                                                 std::to_string(max_readers)};
    if (leases_per_reader < 1 || leases_per_reader > kMaxLeasesPerReader)
        return Error{Errc::invalid_argument, "leases per reader must be 1.." +
                                                 std::to_string(kMaxLeasesPerReader) + ", not " +
                                                 std::to_string(leases_per_reader)};
    if (slot_count < 1 || slot_count > kMaxSlots)
        return Error{Errc::invalid_argument, "slots must be 1.." + std::to_string(kMaxSlots) +
                                                 ", not " + std::to_string(slot_count)};
    // 1 TiB per slot is far past any frame; it also keeps the sums below exact.
    if (slot_capacity < 1 || slot_capacity > (std::uint64_t{1} << 40))
        return Error{Errc::invalid_argument,
                     "slot capacity must be 1 byte..1 TiB, not " + std::to_string(slot_capacity)};
    Geometry g;
    g.layout_version = kLayoutVersion;
    g.slot_count = slot_count;
    g.max_readers = max_readers;
    g.leases_per_reader = leases_per_reader;
    g.slot_capacity = slot_capacity;
    g.slot_stride = round_up(slot_capacity, kPage);
    g.data_offset = round_up(control_size(slot_count, max_readers), kPage);
    g.total_size = g.data_offset + std::uint64_t{slot_count} * g.slot_stride;
    return g;
}

Result<Geometry> read_header(std::span<const std::byte> bytes, std::uint64_t object_size,
                             const std::string& where) {
    using namespace layout;
    auto corrupt = [&](const std::string& why) {
        return Error{Errc::corrupt, where + " is a corrupt framebus segment: " + why};
    };
    if (object_size < sizeof(std::uint64_t) || bytes.size() < sizeof(std::uint64_t) ||
        load_field<std::uint64_t>(bytes, offsetof(SegmentHeader, magic)) != kMagic)
        return Error{Errc::not_framebus, where + " is not a framebus segment"};
    if (bytes.size() < sizeof(SegmentHeader) || object_size < sizeof(SegmentHeader))
        return corrupt("truncated to " + std::to_string(object_size) + " bytes");

    Geometry g;
    g.layout_version = load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, layout_version));
    if (g.layout_version == 0) return corrupt("never finished (layout version 0)");
    // A later framebus bumps the version by one at a time; anything far off
    // is noise after the magic, not a version.
    if (g.layout_version > kLayoutVersion + 1000)
        return corrupt("implausible layout version " + std::to_string(g.layout_version));
    if (g.layout_version < kLayoutVersion)
        return Error{Errc::version_mismatch,
                     where + " was made by an older framebus; restart its writer (layout version " +
                         std::to_string(g.layout_version) + ", this build reads " +
                         std::to_string(kLayoutVersion) + ")"};
    if (g.layout_version > kLayoutVersion)
        return Error{Errc::version_mismatch,
                     where + " was made by a newer framebus (layout version " +
                         std::to_string(g.layout_version) + "); this build reads version " +
                         std::to_string(kLayoutVersion)};
    if (load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, header_size)) !=
        sizeof(SegmentHeader))
        return corrupt("wrong header size");
    g.total_size = load_field<std::uint64_t>(bytes, offsetof(SegmentHeader, total_size));
    g.data_offset = load_field<std::uint64_t>(bytes, offsetof(SegmentHeader, data_offset));
    g.slot_stride = load_field<std::uint64_t>(bytes, offsetof(SegmentHeader, slot_stride));
    g.slot_capacity = load_field<std::uint64_t>(bytes, offsetof(SegmentHeader, slot_capacity));
    g.slot_count = load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, slot_count));
    g.max_readers = load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, max_readers));
    g.leases_per_reader =
        load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, leases_per_reader));

    // Recompute the geometry from the counts; every derived field must agree.
    auto planned = plan_geometry(g.slot_count, g.max_readers, g.leases_per_reader, g.slot_capacity);
    if (!planned) return corrupt(planned.error().message);
    if (planned->slot_stride != g.slot_stride || planned->data_offset != g.data_offset ||
        planned->total_size != g.total_size)
        return corrupt("inconsistent sizes");
    if (g.total_size != object_size)
        return corrupt("header says " + std::to_string(g.total_size) + " bytes, object has " +
                       std::to_string(object_size));

    g.created_realtime_ns =
        load_field<std::int64_t>(bytes, offsetof(SegmentHeader, created_realtime_ns));
    g.mode = load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, mode));
    g.owner_uid = load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, owner_uid));
    g.writer_pid = load_field<std::uint32_t>(bytes, offsetof(SegmentHeader, writer_pid));
    g.writer_start_time =
        load_field<std::uint64_t>(bytes, offsetof(SegmentHeader, writer_start_time));
    const auto* name = reinterpret_cast<const char*>(bytes.data() + offsetof(SegmentHeader, name));
    std::size_t length = ::strnlen(name, kMaxNameLength + 1);
    if (length > kMaxNameLength) return corrupt("name not terminated");
    g.name.assign(name, length);
    return g;
}

Result<SegmentFile> SegmentFile::open(const std::string& shm_name, Access access) {
    SegmentFile file;
    auto object = sys::open_shm(shm_name, access == Access::read_write, segment_path(shm_name));
    if (!object) return object.error();
    file.shm_ = std::move(*object);
    if (auto st = file.refresh_size(); !st) return st.error();
    return file;
}

Result<SegmentFile> SegmentFile::create(const std::string& shm_name, std::uint32_t mode) {
    SegmentFile file;
    auto object = sys::create_shm(shm_name, mode, segment_path(shm_name));
    if (!object) return object.error();
    file.shm_ = std::move(*object);
    if (auto st = file.refresh_size(); !st) {
        (void)sys::shm_unlink(shm_name);  // we created it: leave nothing behind
        return st.error();
    }
    return file;
}

int SegmentFile::fd() const {
    return shm_.get_mapping_handle().handle;
}

Status SegmentFile::refresh_size() {
    struct stat st {};
    if (int err = sys::fstat(fd(), st); err != 0)
        return sys::error_from_errno(err, segment_path(shm_.get_name()));
    size_ = static_cast<std::uint64_t>(st.st_size);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    return ok_status();
}

bool SegmentFile::is_at(const std::string& shm_name) const {
    struct stat st {};
    if (sys::stat(segment_path(shm_name), st) != 0) return false;
    return st.st_dev == dev_ && st.st_ino == ino_;
}

Result<std::string> SegmentFile::read_prefix(std::size_t max) const {
    std::string bytes(std::min<std::uint64_t>(max, size_), '\0');
    const long long n = sys::pread_full(fd(), bytes.data(), bytes.size(), 0);
    if (n < 0) return sys::error_from_errno(static_cast<int>(-n), segment_path(shm_.get_name()));
    bytes.resize(static_cast<std::size_t>(n));  // shrank under us: validation will say so
    return bytes;
}

Result<Mapping> Mapping::map(SegmentFile& file, bool writable, std::uint64_t offset,
                             std::uint64_t size) {
    Mapping m;
    auto region = sys::map(
        file.object(), writable, offset, size,
        "mapping " + std::to_string(size) + " bytes of " + segment_path(file.object().get_name()));
    if (!region) return region.error();
    m.region_ = std::move(*region);
    m.guard_ = truncation::guard(m.region_.get_address(), m.region_.get_size());
    return m;
}

std::size_t reclaim_dead_readers(int fd, const ControlView& control, const Geometry& geometry) {
    std::uint64_t held = 0;
    for (std::uint32_t i = 0; i < geometry.slot_count; ++i)
        held |= control.slots[i].holders.load(std::memory_order_relaxed);  // a hint only
    std::size_t reclaimed = 0;
    for (std::uint32_t r = 0; r < geometry.max_readers; ++r) {
        const std::uint64_t bit = std::uint64_t{1} << r;
        ReaderEntry& entry = control.readers[r];
        if (entry.pid.load(std::memory_order_relaxed) == 0 && (held & bit) == 0) continue;
        // Holding the entry's lock means no live reader owns it and none can
        // claim it until we unlock: clearing its bits is then exact.
        if (sys::try_lock(fd, layout::reader_lock_byte(r)) != 0) continue;
        for (std::uint32_t i = 0; i < geometry.slot_count; ++i) release_hold(control, i, bit);
        entry.pid.store(0, std::memory_order_relaxed);  // statistics only
        entry.start_time.store(0, std::memory_order_relaxed);
        sys::unlock(fd, layout::reader_lock_byte(r));
        ++reclaimed;
    }
    return reclaimed;
}

bool writer_alive(int fd, const Geometry& geometry) {
    switch (sys::probe_lock(fd, layout::kWriterLockByte)) {
        case sys::LockProbe::locked:
            return true;
        case sys::LockProbe::unlocked:
            return false;
        case sys::LockProbe::unsupported:
            break;
    }
    return sys::process_alive(static_cast<int>(geometry.writer_pid), geometry.writer_start_time);
}

}  // namespace framebus::detail
