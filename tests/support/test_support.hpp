// Helpers shared by the test tiers: unique segment names, real child
// processes, pipes to signal between them, frames derived from a number.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace framebus::test {

// "fbt-<tag>-<pid>", with any leftover segment of that name removed first.
std::string unique_name(std::string_view tag);
bool segment_exists(const std::string& name);
void remove_segment_file(const std::string& name);

// A one-way pipe for "I am ready" / "here is my result" between processes:
// a real signal, never a sleep.
class Pipe {
  public:
    Pipe();
    ~Pipe();
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    void send(std::uint64_t value);  // writer end
    // Reader end: nullopt on timeout or EOF (the other side died).
    std::optional<std::uint64_t> receive(std::chrono::milliseconds timeout);
    void close_read();
    void close_write();

  private:
    int fds_[2] = {-1, -1};
};

// A child process running `body` (fork, no exec); its return value is the
// exit code. Call before opening any segment in the parent, so the child
// inherits no mapping or lock of ours.
class Child {
  public:
    explicit Child(std::function<int()> body);
    ~Child();  // SIGKILLs and reaps a child still running
    Child(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    void kill(int signal) const;
    // Waits for exit; returns the raw wait status, or nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    // The exit code if it exited normally, -signal if killed, nullopt on timeout.
    std::optional<int> wait_exit_code(std::chrono::milliseconds timeout);

  private:
    pid_t pid_ = -1;
};

// Fills `n` bytes with a pattern derived from `seq` and the byte's offset;
// check_frame returns how many 8-byte words do not match.
void fill_frame(std::byte* data, std::size_t n, std::uint64_t seq);
std::size_t check_frame(const std::byte* data, std::size_t n, std::uint64_t seq);

}  // namespace framebus::test
