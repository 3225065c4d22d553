#pragma once
#include <cstdint>
namespace framebus::test {
// Allocations made through operator new so far in this program (the unit
// test executable replaces the global operator new to count them).
std::uint64_t allocations();
// Non-null pointers given back through operator delete so far.
std::uint64_t deallocations();
}  // namespace framebus::test
