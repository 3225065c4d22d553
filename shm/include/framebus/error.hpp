// Errors as values: every fallible library call returns Result<T>.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace framebus {

enum class Errc {
    invalid_argument,   // a bad value from the caller (format, slot count, ...)
    invalid_name,       // segment name fails validation
    not_found,          // no segment under that name
    not_framebus,       // the object exists but is not a framebus segment
    corrupt,            // framebus magic, but the layout does not check out
    version_mismatch,   // a framebus segment of another layout version
    live_writer,        // a live writer already owns the name
    permission_denied,  // EACCES / EPERM
    no_space,           // /dev/shm (or the memory cgroup) is full
    too_many_readers,   // every reader entry is taken by a live reader
    lease_held,         // this reader already holds a lease
    no_frame,           // nothing (new) to lease yet
    no_free_slot,       // the writer found no free slot; the frame is dropped
    frame_too_large,    // the frame does not fit the slot capacity
    timed_out,          // a wait ran out
    system,             // any other OS error (errno in Error::sys_errno)
};

// Exit-code class of an error for programs: input/usage problems are 2.
[[nodiscard]] constexpr bool is_input_error(Errc code) {
    switch (code) {
        case Errc::invalid_argument:
        case Errc::invalid_name:
        case Errc::not_found:
        case Errc::not_framebus:
        case Errc::corrupt:
        case Errc::version_mismatch:
        case Errc::live_writer:
        case Errc::permission_denied:
        case Errc::no_space:
        case Errc::too_many_readers:
            return true;
        default:
            return false;
    }
}

[[nodiscard]] const char* to_string(Errc code);

struct Error {
    Errc code;
    std::string message;  // one line: what and where
    int sys_errno = 0;
};

// A minimal expected<T, Error> (std::expected is C++23).
template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    explicit operator bool() const { return v_.index() == 0; }
    bool ok() const { return v_.index() == 0; }

    T& value() & { return assert_ok(), std::get<0>(v_); }
    T&& value() && { return assert_ok(), std::get<0>(std::move(v_)); }
    const T& value() const& { return assert_ok(), std::get<0>(v_); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }

  private:
    void assert_ok() const { assert(ok()); }
    std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() {
    return Ok{};
}

}  // namespace framebus
