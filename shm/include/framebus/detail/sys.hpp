// The one thin wrapper around the system calls the bus makes, so errno is
// mapped in one place and tests can force failures (ENOSPC, EACCES, ...).
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "framebus/error.hpp"

namespace framebus::sys {

// Every system call the bus makes on segment files goes through this file:
// errno is mapped in one place, EINTR is retried here, and a test can make
// any of them fail once (testing::fail_next). Boost.Interprocess stays the
// implementation of the shared-memory object and its mappings; its
// exceptions end here, as errno values.
enum class Call { shm_open, fallocate, mmap, link, rename, unlink, pread, fstat, opendir, count };

namespace bip = boost::interprocess;

// shm_open(O_RDONLY or O_RDWR) of an existing object.
[[nodiscard]] Result<bip::shared_memory_object> open_shm(const std::string& name, bool writable,
                                                         const std::string& what);
// shm_open(O_CREAT | O_EXCL | O_RDWR), then fchmod to exactly `mode` (no umask).
[[nodiscard]] Result<bip::shared_memory_object> create_shm(const std::string& name,
                                                           std::uint32_t mode,
                                                           const std::string& what);
// mmap of [offset, offset + size) of the object, shared.
[[nodiscard]] Result<bip::mapped_region> map(const bip::shared_memory_object& object, bool writable,
                                             std::uint64_t offset, std::uint64_t size,
                                             const std::string& what);

// These return 0 or an errno value.
[[nodiscard]] int shm_unlink(const std::string& name);
[[nodiscard]] int link(const std::string& from_path, const std::string& to_path);
[[nodiscard]] int rename(const std::string& from_path, const std::string& to_path);
[[nodiscard]] int fstat(int fd, struct stat& st);
[[nodiscard]] int stat(const std::string& path, struct stat& st);  // follows no fault injection
// pread until `size` bytes or end of file; the count read, or -errno.
[[nodiscard]] long long pread_full(int fd, void* into, std::size_t size, std::uint64_t offset);

// openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC): never
// blocks on a FIFO, never follows a link. An fd, or -errno. close_fd closes.
[[nodiscard]] int open_in(int dir_fd, const std::string& name);
void close_fd(int fd);

// A directory listing (RAII around opendir/readdir/closedir).
class Directory {
  public:
    explicit Directory(const std::string& path);
    ~Directory();
    Directory(const Directory&) = delete;
    Directory& operator=(const Directory&) = delete;
    [[nodiscard]] int error() const { return error_; }  // 0, or why it could not be opened
    [[nodiscard]] int fd() const;                       // for openat
    // The next entry's name; empty at the end.
    [[nodiscard]] std::string next();

  private:
    DIR* dir_ = nullptr;
    int error_ = 0;
};

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
void fail_next(Call call, int err);
inline void fail_next_fallocate(int err) {
    fail_next(Call::fallocate, err);
}
}  // namespace testing

}  // namespace framebus::sys
