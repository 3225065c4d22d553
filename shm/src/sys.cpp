#include "framebus/detail/sys.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/interprocess/exceptions.hpp>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "framebus/name.hpp"

namespace framebus::sys {

namespace {
std::atomic<int> g_fail_next[static_cast<int>(Call::count)]{};

// The errno a test asked this call to fail with, once; 0 normally.
int injected(Call call) {
    // relaxed: a test hook, set before the call it concerns on the same thread.
    return g_fail_next[static_cast<int>(call)].exchange(0, std::memory_order_relaxed);
}

Error error_from_boost(const std::exception& e, const std::string& what) {
    if (const auto* ipc = dynamic_cast<const bip::interprocess_exception*>(&e)) {
        int err = ipc->get_native_error();
        if (err != 0) return error_from_errno(err, what);
    }
    return Error{Errc::system, what + ": " + e.what()};
}

const char* file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    return "not a regular file";
}

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

void testing::fail_next(Call call, int err) {
    g_fail_next[static_cast<int>(call)].store(err, std::memory_order_relaxed);
}

Result<bip::shared_memory_object> open_shm(const std::string& name, bool writable,
                                           const std::string& what) {
    if (int err = injected(Call::shm_open)) return error_from_errno(err, what);
    // First a look that cannot block or follow: shm_open would follow
    // nothing either (glibc adds O_NOFOLLOW), but a read-only open of a FIFO
    // waits for a writer for ever. Only a regular file goes on to shm_open,
    // and the object it opens must be the one looked at (PROTOCOL.md "Trust").
    const std::string path = segment_path(name);
    const int probe = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (probe < 0) {
        const int err = errno;
        if (err == ELOOP)
            return Error{Errc::not_framebus, what + " is a symbolic link, not a framebus segment",
                         err};
        return error_from_errno(err, what);
    }
    struct stat looked {};
    const int looked_err = ::fstat(probe, &looked) == 0 ? 0 : errno;
    ::close(probe);
    if (looked_err != 0) return error_from_errno(looked_err, what);
    if (!S_ISREG(looked.st_mode))
        return Error{Errc::not_framebus,
                     what + " is " + file_kind(looked.st_mode) + ", not a framebus segment"};
    try {
        bip::shared_memory_object object(bip::open_only, name.c_str(),
                                         writable ? bip::read_write : bip::read_only);
        struct stat opened {};
        if (::fstat(object.get_mapping_handle().handle, &opened) != 0 ||
            opened.st_dev != looked.st_dev || opened.st_ino != looked.st_ino)
            return Error{Errc::not_found, what + " changed while it was opened"};
        return object;
    } catch (const std::exception& e) {
        return error_from_boost(e, what);
    }
}

Result<bip::shared_memory_object> create_shm(const std::string& name, std::uint32_t mode,
                                             const std::string& what) {
    if (int err = injected(Call::shm_open)) return error_from_errno(err, what);
    try {
        // O_CREAT|O_EXCL, then fchmod: the mode is exact, whatever the umask.
        return bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write,
                                         bip::permissions(mode));
    } catch (const std::exception& e) {
        return error_from_boost(e, what);
    }
}

Result<bip::mapped_region> map(const bip::shared_memory_object& object, bool writable,
                               std::uint64_t offset, std::uint64_t size, const std::string& what) {
    if (int err = injected(Call::mmap)) return error_from_errno(err, what);
    try {
        return bip::mapped_region(object, writable ? bip::read_write : bip::read_only,
                                  static_cast<bip::offset_t>(offset),
                                  static_cast<std::size_t>(size));
    } catch (const std::exception& e) {
        return error_from_boost(e, what);
    }
}

int shm_unlink(const std::string& name) {
    if (int err = injected(Call::unlink)) return err;
    return ::shm_unlink(name.c_str()) == 0 ? 0 : errno;
}

int link(const std::string& from_path, const std::string& to_path) {
    if (int err = injected(Call::link)) return err;
    return ::link(from_path.c_str(), to_path.c_str()) == 0 ? 0 : errno;
}

int rename(const std::string& from_path, const std::string& to_path) {
    if (int err = injected(Call::rename)) return err;
    return ::rename(from_path.c_str(), to_path.c_str()) == 0 ? 0 : errno;
}

int fstat(int fd, struct stat& st) {
    if (int err = injected(Call::fstat)) return err;
    return ::fstat(fd, &st) == 0 ? 0 : errno;
}

int stat(const std::string& path, struct stat& st) {
    return ::stat(path.c_str(), &st) == 0 ? 0 : errno;
}

long long pread_full(int fd, void* into, std::size_t size, std::uint64_t offset) {
    if (int err = injected(Call::pread)) return -err;
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, static_cast<char*>(into) + done, size - done,
                                  static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) break;  // end of file: shorter than asked
        done += static_cast<std::size_t>(n);
    }
    return static_cast<long long>(done);
}

int open_in(int dir_fd, const std::string& name) {
    if (int err = injected(Call::shm_open)) return -err;
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

void close_fd(int fd) {
    if (fd >= 0) ::close(fd);
}

Directory::Directory(const std::string& path) {
    if (int err = injected(Call::opendir)) {
        error_ = err;
        return;
    }
    dir_ = ::opendir(path.c_str());
    if (dir_ == nullptr) error_ = errno;
}

Directory::~Directory() {
    if (dir_ != nullptr) ::closedir(dir_);
}

int Directory::fd() const {
    return dir_ != nullptr ? ::dirfd(dir_) : -1;
}

std::string Directory::next() {
    if (dir_ == nullptr) return {};
    const dirent* entry = ::readdir(dir_);
    return entry != nullptr ? std::string(entry->d_name) : std::string();
}

int fallocate(int fd, std::uint64_t size) {
    if (int err = injected(Call::fallocate)) return err;
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
        case EFBIG:
            code = Errc::no_space;
            hint = " (is /dev/shm full? `df -h /dev/shm`)";
            break;
        case ENOMEM:  // mmap beyond `ulimit -v`, or no memory at all: not /dev/shm
            code = Errc::no_space;
            hint = " (out of memory or address space: `ulimit -v`, a memory cgroup limit?)";
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
