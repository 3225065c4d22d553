// Its own translation unit, so no caller inlines the replaced operators.
#include "allocation_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_deallocations{0};
void count_free(void* p) {
    if (p != nullptr) g_deallocations.fetch_add(1, std::memory_order_relaxed);  // a count only
}
}  // namespace

std::uint64_t framebus::test::allocations() {
    return g_allocations.load();
}

std::uint64_t framebus::test::deallocations() {
    return g_deallocations.load();
}

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);  // a count only
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    count_free(p);
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    count_free(p);
    std::free(p);
}
