// The one thin wrapper around the system calls the bus makes, so errno is
// mapped in one place and tests can force failures (ENOSPC, EACCES, ...).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "framebus/error.hpp"

namespace framebus::sys {

// Returns 0 or an errno value; EINTR is retried inside.
[[nodiscard]] int fallocate(int fd, std::uint64_t size);

enum class LockProbe { unlocked, locked, unsupported };
// F_OFD_GETLK: is `byte` write-locked by another open file description?
[[nodiscard]] LockProbe probe_lock(int fd, std::int64_t byte);
// F_OFD_SETLK F_WRLCK without waiting: 0, EAGAIN (held elsewhere), or errno.
[[nodiscard]] int try_lock(int fd, std::int64_t byte);
void unlock(int fd, std::int64_t byte);

// Non-private futexes: they work across processes (std::atomic::wait does not).
// Returns false on timeout.
bool futex_wait(const std::atomic<std::uint32_t>* word, std::uint32_t expected,
                std::int64_t timeout_ns);
void futex_wake_all(const std::atomic<std::uint32_t>* word);

// /proc/<pid>/stat field 22 (start time in clock ticks since boot).
[[nodiscard]] std::optional<std::uint64_t> process_start_time(int pid);
// Fallback liveness when OFD locks are unsupported: pid exists with that start time.
[[nodiscard]] bool process_alive(int pid, std::uint64_t start_time);

// Maps errno to an Error whose message says what and where.
[[nodiscard]] Error error_from_errno(int err, const std::string& what);

namespace testing {
// Make the next call of that kind fail with `err` (0 clears). Test hook.
void fail_next_fallocate(int err);
}  // namespace testing

}  // namespace framebus::sys
