#include "test_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace framebus::test {

std::string unique_name(std::string_view tag) {
    std::string name = "fbt-" + std::string(tag) + "-" + std::to_string(::getpid());
    remove_segment_file(name);
    return name;
}

bool segment_exists(const std::string& name) {
    struct stat st {};
    return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

void remove_segment_file(const std::string& name) {
    ::shm_unlink(name.c_str());
}

Pipe::Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
}
Pipe::~Pipe() {
    close_read();
    close_write();
}
void Pipe::close_read() {
    if (fds_[0] >= 0) ::close(fds_[0]);
    fds_[0] = -1;
}
void Pipe::close_write() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
}
void Pipe::send(std::uint64_t value) {
    ssize_t n;
    do {
        n = ::write(fds_[1], &value, sizeof value);
    } while (n < 0 && errno == EINTR);
}
std::optional<std::uint64_t> Pipe::receive(std::chrono::milliseconds timeout) {
    struct pollfd p {
        fds_[0], POLLIN, 0
    };
    int rc;
    do {
        rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) return std::nullopt;
    std::uint64_t value = 0;
    ssize_t n;
    do {
        n = ::read(fds_[0], &value, sizeof value);
    } while (n < 0 && errno == EINTR);
    if (n != sizeof value) return std::nullopt;
    return value;
}

Child::Child(std::function<int()> body) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        int code = 99;
        try {
            code = body();
        } catch (...) {
            code = 98;
        }
        std::_Exit(code);  // no atexit handlers, no gtest teardown in the child
    }
}
Child::Child(Child&& other) noexcept : pid_(other.pid_) {
    other.pid_ = -1;
}
Child::~Child() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status;
        ::waitpid(pid_, &status, 0);
    }
}
void Child::kill(int signal) const {
    ::kill(pid_, signal);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;  // reaped already; waitpid(-1) would take another child
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return status;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        // waitpid has no timeout; poll it at 1 kHz (the exit itself is the signal).
        ::usleep(1000);
    }
}

std::optional<int> Child::wait_exit_code(std::chrono::milliseconds timeout) {
    auto status = wait(timeout);
    if (!status) return std::nullopt;
    if (WIFEXITED(*status)) return WEXITSTATUS(*status);
    if (WIFSIGNALED(*status)) return -WTERMSIG(*status);
    return std::nullopt;
}

namespace {
inline std::uint64_t word_for(std::uint64_t seq, std::size_t index) {
    return (seq * 0x9E3779B97F4A7C15ULL) ^ index;
}
}  // namespace

void fill_frame(std::byte* data, std::size_t n, std::uint64_t seq) {
    std::size_t words = n / 8;
    for (std::size_t k = 0; k < words; ++k) {
        std::uint64_t w = word_for(seq, k);
        std::memcpy(data + 8 * k, &w, 8);
    }
    for (std::size_t i = words * 8; i < n; ++i) data[i] = static_cast<std::byte>(seq);
}

std::size_t check_frame(const std::byte* data, std::size_t n, std::uint64_t seq) {
    std::size_t bad = 0;
    std::size_t words = n / 8;
    for (std::size_t k = 0; k < words; ++k) {
        std::uint64_t w;
        std::memcpy(&w, data + 8 * k, 8);
        bad += w != word_for(seq, k);
    }
    for (std::size_t i = words * 8; i < n; ++i) bad += data[i] != static_cast<std::byte>(seq);
    return bad;
}

}  // namespace framebus::test
