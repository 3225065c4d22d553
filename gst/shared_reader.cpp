#include "shared_reader.hpp"

#include <utility>

namespace framebus::gst {

WaitStatus SharedReader::wait(std::chrono::nanoseconds timeout) {
    waiting_.store(true);
    const WaitStatus status = reader_.wait(timeout);
    // Cleared before the sweep: a give_back() that still sees `waiting_`
    // marked its lease before this store, so the sweep below finds it.
    waiting_.store(false);
    release_pending();
    return status;
}

void SharedReader::release_pending() {
    for (auto& lent : lent_leases_) {
        if (lent.lease && lent.pending.exchange(false)) {
            // The element holds its own reference while it streams, so ours
            // is never the last one here.
            std::shared_ptr<SharedReader> keep;
            release_locked(lent, keep);
        }
    }
}

GstMemory* SharedReader::lend(Lease lease, std::size_t bytes) {
    for (auto& lent : lent_leases_) {
        if (lent.lease) continue;
        auto* data = const_cast<std::byte*>(lease.data());  // the memory is READONLY
        lent.owner = this;
        lent.lease.emplace(std::move(lease));
        lent.keep_alive = shared_from_this();
        lent.pending.store(false);
        ++lent_;
        return gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, data, bytes, 0, bytes, &lent,
                                      &SharedReader::give_back_notify);
    }
    return nullptr;  // the caller keeps lent() under the cap
}

void SharedReader::give_back_notify(gpointer lent) {
    auto& entry = *static_cast<LentLease*>(lent);
    entry.owner->give_back(entry);
}

void SharedReader::give_back(LentLease& lent) {
    std::shared_ptr<SharedReader> keep;  // destroyed after the lock: may be the last reference
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {
        lent.pending.store(true);
        // Another thread has the Reader. If it is blocked in wait(), it
        // sweeps pending leases when wait() returns: leave it to that.
        if (waiting_.load()) return;
        lock.lock();                                // a short call (latest(), stop): wait for it
        if (!lent.pending.exchange(false)) return;  // swept meanwhile
    }
    release_locked(lent, keep);
}

void SharedReader::release_locked(LentLease& lent, std::shared_ptr<SharedReader>& keep) {
    lent.lease.reset();  // Lease destructor: release under the lock
    --lent_;
    keep = std::move(lent.keep_alive);
}

}  // namespace framebus::gst
