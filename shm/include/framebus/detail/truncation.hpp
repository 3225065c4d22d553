// Internal: surviving a segment truncated under its mappings (PROTOCOL.md
// "Truncation (SIGBUS)"). Each mapping of a segment is entered in a fixed,
// lock-free table; a SIGBUS inside one is answered by mapping private zero
// pages over it (the faulting access is retried and succeeds) and setting
// the mapping's flag, which the writer and reader check where they already
// look at shared words. A SIGBUS anywhere else goes to the previous handler.
#pragma once

#include <cstddef>

namespace framebus::detail::truncation {

// Enters [base, base + size) in the table (installing the handler the first
// time). Returns the entry, or -1 when the table is full (then the mapping is
// unguarded: a truncation kills the process, as it did without this).
[[nodiscard]] int guard(void* base, std::size_t size);
// Removes the entry before the range is unmapped. -1 is ignored.
void unguard(int entry);
// Did a SIGBUS hit this mapping? One relaxed atomic load: for hot paths.
[[nodiscard]] bool hit(int entry);

}  // namespace framebus::detail::truncation
