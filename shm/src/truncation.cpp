// The SIGBUS answer of PROTOCOL.md "Truncation (SIGBUS)", after Wayland's
// wl_shm (libwayland-server, wl_shm_buffer_begin_access): no siglongjmp out
// of arbitrary code, only private zero pages mapped where the segment's pages
// vanished, and a flag for the owner to see.
#include "framebus/detail/truncation.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace framebus::detail::truncation {

namespace {

// Mappings of one process: a writer has one or two (during a replacement), a
// reader two per attached segment, and leases keep old segments attached.
constexpr int kEntries = 1024;

struct Entry {
    std::atomic<bool> used{false};
    std::atomic<std::uintptr_t> begin{0};  // 0: not (yet) guarding
    std::atomic<std::uintptr_t> end{0};
    std::atomic<bool> hit{false};
};

Entry g_entries[kEntries];
struct sigaction g_previous {};
std::once_flag g_installed;

static_assert(std::atomic<std::uintptr_t>::is_always_lock_free);  // async-signal-safe
static_assert(std::atomic<bool>::is_always_lock_free);

void on_sigbus(int signal, siginfo_t* info, void* context) {
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    for (Entry& e : g_entries) {
        // acquire: pairs with guard()'s release store of begin (end is set first).
        const std::uintptr_t begin = e.begin.load(std::memory_order_acquire);
        if (begin == 0 || address < begin || address >= e.end.load(std::memory_order_relaxed))
            continue;
        // Private zeros over the whole mapping: the access that faulted is
        // retried on return and succeeds; nobody else sees these pages.
        void* replaced =
            ::mmap(reinterpret_cast<void*>(begin), e.end.load(std::memory_order_relaxed) - begin,
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (replaced == MAP_FAILED) break;  // cannot help: die as before
        e.hit.store(true, std::memory_order_relaxed);
        return;
    }
    // Not ours: whatever the process had before.
    if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
        g_previous.sa_sigaction(signal, info, context);
        return;
    }
    if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
        g_previous.sa_handler(signal);
        return;
    }
    // Default: restore it; the access faults again and the process ends as
    // it would have without us.
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    ::sigemptyset(&fallback.sa_mask);
    ::sigaction(SIGBUS, &fallback, nullptr);
}

void install() {
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    ::sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &g_previous);
}

}  // namespace

int guard(void* base, std::size_t size) {
    if (base == nullptr || size == 0) return -1;
    std::call_once(g_installed, install);
    for (int i = 0; i < kEntries; ++i) {
        Entry& e = g_entries[i];
        bool expected = false;
        if (!e.used.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) continue;
        e.hit.store(false, std::memory_order_relaxed);
        e.end.store(reinterpret_cast<std::uintptr_t>(base) + size, std::memory_order_relaxed);
        // release: the handler that sees begin sees end.
        e.begin.store(reinterpret_cast<std::uintptr_t>(base), std::memory_order_release);
        return i;
    }
    return -1;
}

void unguard(int entry) {
    if (entry < 0 || entry >= kEntries) return;
    Entry& e = g_entries[entry];
    e.begin.store(0, std::memory_order_release);
    e.end.store(0, std::memory_order_relaxed);
    e.used.store(false, std::memory_order_release);
}

bool hit(int entry) {
    // relaxed: a flag; what it says is acted on with system calls, not memory.
    return entry >= 0 && entry < kEntries && g_entries[entry].hit.load(std::memory_order_relaxed);
}

}  // namespace framebus::detail::truncation
