// The one place where a framebus::Reader meets GStreamer's threads.
//
// A Reader and its Leases are not thread-safe (v2-plan "thread rule"), but a
// GstBuffer wrapping a lease is freed on whatever thread drops it last. So the
// element and every buffer it lends share this object (shared_ptr): it owns
// the Reader and a mutex that serialises every call on it, lease releases
// included, and it lives until the last lent buffer is gone, even after the
// element has stopped or been destroyed.
//
// The streaming thread holds the mutex while it blocks in Reader::wait(). A
// buffer freed meanwhile must not block for that long, so it marks its lease
// `pending` and the waiting thread releases it as soon as wait() returns
// (the `waiting` handshake below).
#pragma once

#include <gst/gst.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "framebus/reader.hpp"

namespace framebus::gst {

// The Reader's own cap is at most 16 leases (leases_per_reader 1..16).
inline constexpr std::uint32_t kMaxLentLeases = 16;

class SharedReader : public std::enable_shared_from_this<SharedReader> {
  public:
    struct LentLease {
        SharedReader* owner = nullptr;
        std::optional<Lease> lease;
        std::shared_ptr<SharedReader> keep_alive;  // set while lent: buffers keep us alive
        std::atomic<bool> pending{false};          // freed while the owner waited
    };

    explicit SharedReader(Reader reader) : reader_(std::move(reader)) {}

    // Every use of reader() and every lend() happens under this lock.
    std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }
    Reader& reader() { return reader_; }
    void replace_reader(Reader reader) { reader_ = std::move(reader); }

    // Reader::wait() with the lock held; leases freed meanwhile are released
    // when it returns.
    WaitStatus wait(std::chrono::nanoseconds timeout);

    // Releases leases marked pending (lock held).
    void release_pending();

    // Leases now out in buffers (lock held).
    [[nodiscard]] std::uint32_t lent() const { return lent_; }

    // A GstMemory that wraps the lease's bytes read-only and owns the lease:
    // freeing the memory gives the lease back (lock held, lent() below
    // kMaxLentLeases).
    [[nodiscard]] GstMemory* lend(Lease lease, std::size_t bytes);

  private:
    static void give_back_notify(gpointer lent);
    void give_back(LentLease& lent);
    void release_locked(LentLease& lent, std::shared_ptr<SharedReader>& keep);

    std::mutex mutex_;
    Reader reader_;
    std::array<LentLease, kMaxLentLeases> lent_leases_{};
    std::uint32_t lent_ = 0;
    std::atomic<bool> waiting_{false};  // seq_cst with LentLease::pending, see give_back()
};

}  // namespace framebus::gst
