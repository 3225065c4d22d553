#include "framebus/app/program.hpp"

#include <signal.h>

#include <atomic>
#include <cerrno>

namespace framebus::app {

namespace {

// Lock-free atomics are async-signal-safe; the static assert keeps it so.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal) {
    // relaxed: the flag is the whole message; nothing else is published with it.
    g_stop_signal.store(signal, std::memory_order_relaxed);
}

}  // namespace

int exit_code_of(const Error& error) {
    return is_input_error(error.code) ? kExitUsage : kExitFailed;
}

void ignore_sigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGPIPE, &ignore, nullptr);
}

void install_stop_handlers() {
    struct sigaction stop {};
    stop.sa_handler = on_stop_signal;
    sigemptyset(&stop.sa_mask);
    stop.sa_flags = 0;  // no SA_RESTART: interrupted sleeps and reads return
    ::sigaction(SIGINT, &stop, nullptr);
    ::sigaction(SIGTERM, &stop, nullptr);
}

bool stop_requested() {
    return g_stop_signal.load(std::memory_order_relaxed) != 0;
}

int stop_signal() {
    return g_stop_signal.load(std::memory_order_relaxed);
}

bool write_text(std::FILE* out, std::string_view text) noexcept {
    const int saved_errno = errno;  // callers report their own errors, not ours
    bool written = std::fwrite(text.data(), 1, text.size(), out) == text.size();
    written = std::fflush(out) == 0 && written;
    // A stream that failed once stays failed in stdio; clear it so a later
    // line to a stream that works again (a terminal) is not lost.
    std::clearerr(out);
    errno = saved_errno;
    return written;
}

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f)
            out += c;
        else
            out += fmt::format("\\x{:02x}", byte);
    }
    return out;
}

int report_error(std::string_view program, std::string_view message, int exit_code) {
    write_text(stderr, fmt::format("{}: error: {}\n", program, printable(message)));
    return exit_code;
}

int report_error(std::string_view program, const Error& error) {
    return report_error(program, error.message, exit_code_of(error));
}

}  // namespace framebus::app
