#include "framebus/detail/sys.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace framebus::sys {

namespace {
std::atomic<int> g_fail_fallocate{0};

struct flock lock_request(short type, std::int64_t byte) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    fl.l_pid = 0;  // must be 0 for OFD locks
    return fl;
}
}  // namespace

void testing::fail_next_fallocate(int err) {
    g_fail_fallocate.store(err);
}

int fallocate(int fd, std::uint64_t size) {
    if (int injected = g_fail_fallocate.exchange(0); injected != 0) return injected;
    // posix_fallocate returns the error instead of setting errno; it retries
    // EINTR itself only in the fallback path, so retry here.
    int rc;
    do {
        rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
    } while (rc == EINTR);
    return rc;
}

LockProbe probe_lock(int fd, std::int64_t byte) {
    struct flock fl = lock_request(F_WRLCK, byte);
    if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) return LockProbe::unsupported;
    return fl.l_type == F_UNLCK ? LockProbe::unlocked : LockProbe::locked;
}

int try_lock(int fd, std::int64_t byte) {
    struct flock fl = lock_request(F_WRLCK, byte);
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    return errno == EACCES ? EAGAIN : errno;
}

void unlock(int fd, std::int64_t byte) {
    struct flock fl = lock_request(F_UNLCK, byte);
    (void)::fcntl(fd, F_OFD_SETLK, &fl);
}

bool futex_wait(const std::atomic<std::uint32_t>* word, std::uint32_t expected,
                std::int64_t timeout_ns) {
    struct timespec ts {};
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
    // FUTEX_WAIT without FUTEX_PRIVATE_FLAG: keyed by (inode, offset), so a
    // waker in another process that maps the same object finds us.
    long rc = ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(word), FUTEX_WAIT,
                        expected, &ts, nullptr, 0);
    return !(rc != 0 && errno == ETIMEDOUT);
}

void futex_wake_all(const std::atomic<std::uint32_t>* word) {
    (void)::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(word), FUTEX_WAKE, INT_MAX,
                    nullptr, nullptr, 0);
}

std::optional<std::uint64_t> process_start_time(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    // The command name (field 2) is in parentheses and may contain spaces.
    auto close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    // Field 3 is the first after ')'; field 22 is the 20th from there.
    for (int i = 3; i <= 22; ++i) {
        if (!(fields >> field)) return std::nullopt;
    }
    try {
        return std::stoull(field);
    } catch (...) {
        return std::nullopt;
    }
}

bool process_alive(int pid, std::uint64_t start_time) {
    if (pid <= 0) return false;
    auto now = process_start_time(pid);
    return now && *now == start_time;
}

Error error_from_errno(int err, const std::string& what) {
    Errc code = Errc::system;
    const char* hint = "";
    switch (err) {
        case ENOENT:
            code = Errc::not_found;
            break;
        case EACCES:
        case EPERM:
            code = Errc::permission_denied;
            break;
        case ENOSPC:
        case ENOMEM:
        case EFBIG:
            code = Errc::no_space;
            hint = " (is /dev/shm full? `df -h /dev/shm`)";
            break;
        case EINVAL:
        case ENAMETOOLONG:
            code = Errc::invalid_argument;
            break;
        default:
            break;
    }
    return Error{code, what + ": " + std::strerror(err) + hint, err};
}

}  // namespace framebus::sys
