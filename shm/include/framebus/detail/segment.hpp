// Internal: the segment object, its mappings, and header validation shared by
// the writer, the reader and the inspection code. Not part of the public API.
#pragma once

#include <sys/types.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "framebus/detail/protocol.hpp"
#include "framebus/detail/truncation.hpp"
#include "framebus/error.hpp"
#include "framebus/layout.hpp"

namespace framebus::detail {

// The write-once header fields, copied out of the segment and validated.
// Everything after validation uses this copy, never the shared bytes again.
struct Geometry {
    std::uint32_t layout_version = 0;
    std::uint64_t total_size = 0;
    std::uint64_t data_offset = 0;
    std::uint64_t slot_stride = 0;
    std::uint64_t slot_capacity = 0;
    std::uint32_t slot_count = 0;
    std::uint32_t max_readers = 0;
    std::uint32_t leases_per_reader = 0;
    std::int64_t created_realtime_ns = 0;
    std::uint32_t mode = 0;
    std::uint32_t owner_uid = 0;
    std::uint32_t writer_pid = 0;
    std::uint64_t writer_start_time = 0;
    std::string name;
};

// Geometry for a new segment; invalid_argument if the numbers do not fit.
[[nodiscard]] Result<Geometry> plan_geometry(std::uint32_t slot_count, std::uint32_t max_readers,
                                             std::uint32_t leases_per_reader,
                                             std::uint64_t slot_capacity);

// Reads and validates the header from the first bytes of an object whose real
// size is object_size. `where` names the object in messages.
[[nodiscard]] Result<Geometry> read_header(std::span<const std::byte> bytes,
                                           std::uint64_t object_size, const std::string& where);

// Reads a trivially copyable field at `offset` of `bytes` (bounds checked by
// the caller): no alignment or aliasing assumptions about untrusted bytes.
template <class T>
T load_field(std::span<const std::byte> bytes, std::size_t offset);

// An open shared-memory object (RAII via Boost.Interprocess).
class SegmentFile {
  public:
    SegmentFile() = default;
    enum class Access { read_only, read_write };
    [[nodiscard]] static Result<SegmentFile> open(const std::string& shm_name, Access access);
    [[nodiscard]] static Result<SegmentFile> create(const std::string& shm_name,
                                                    std::uint32_t mode);

    [[nodiscard]] int fd() const;
    [[nodiscard]] std::uint64_t size() const { return size_; }
    [[nodiscard]] bool is_open() const { return fd() >= 0; }
    // Does /dev/shm/<name> still name this very object (same inode)?
    [[nodiscard]] bool is_at(const std::string& shm_name) const;
    // Re-reads the size (fstat).
    Status refresh_size();
    // The first min(size, max) bytes, read with pread (no mapping: no SIGBUS).
    [[nodiscard]] Result<std::string> read_prefix(std::size_t max) const;

    boost::interprocess::shared_memory_object& object() { return shm_; }

  private:
    boost::interprocess::shared_memory_object shm_;
    std::uint64_t size_ = 0;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
};

// A mapping of part of a segment (RAII via Boost.Interprocess).
// Guarded against truncation (truncation.hpp): a SIGBUS inside it leaves
// private zeros in its place and truncated() true.
class Mapping {
  public:
    Mapping() = default;
    Mapping(Mapping&& other) noexcept
        : region_(std::move(other.region_)), guard_(std::exchange(other.guard_, -1)) {}
    Mapping& operator=(Mapping&& other) noexcept {
        if (this != &other) {
            reset();
            region_ = std::move(other.region_);
            guard_ = std::exchange(other.guard_, -1);
        }
        return *this;
    }
    ~Mapping() { reset(); }

    [[nodiscard]] static Result<Mapping> map(SegmentFile& file, bool writable, std::uint64_t offset,
                                             std::uint64_t size);
    [[nodiscard]] std::byte* data() const { return static_cast<std::byte*>(region_.get_address()); }
    [[nodiscard]] std::size_t size() const { return region_.get_size(); }
    // Was the segment truncated under this mapping (a SIGBUS hit it)? One
    // relaxed load: hot paths may ask.
    [[nodiscard]] bool truncated() const { return truncation::hit(guard_); }

  private:
    void reset() {
        truncation::unguard(guard_);  // before the range is unmapped
        guard_ = -1;
        region_ = boost::interprocess::mapped_region();
    }
    boost::interprocess::mapped_region region_;
    int guard_ = -1;
};

// Clears the leases and entries of readers whose process is gone. Exact: an
// entry is cleared only while we hold its OFD lock, so a reader cannot be
// claiming it at the same time. System calls; never on a hot path.
std::size_t reclaim_dead_readers(int fd, const ControlView& control, const Geometry& geometry);

// Is the writer of this segment alive? OFD lock probe, pid+start time fallback.
[[nodiscard]] bool writer_alive(int fd, const Geometry& geometry);

}  // namespace framebus::detail
