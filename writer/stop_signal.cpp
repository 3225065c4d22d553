#include "stop_signal.hpp"

#include <csignal>

#include <atomic>

namespace framebus::writer {

namespace {

// Lock-free atomics are async-signal-safe; a static assert keeps it so.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal) {
    // relaxed: the flag is the whole message; nothing else is published with it.
    g_stop_signal.store(signal, std::memory_order_relaxed);
}

}  // namespace

void install_stop_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: interrupted sleeps and reads return
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() {
    return g_stop_signal.load(std::memory_order_relaxed) != 0;
}
int stop_signal() {
    return g_stop_signal.load(std::memory_order_relaxed);
}

}  // namespace framebus::writer
