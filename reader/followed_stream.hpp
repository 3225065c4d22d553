// A Reader that follows its name: through segment replacements (shape
// changes) and writer restarts, with counters that survive the switches.
#pragma once

#include <cstdint>
#include <string>

#include "framebus/error.hpp"
#include "framebus/reader.hpp"

namespace framebus::reader {

class FollowedStream {
  public:
    [[nodiscard]] static Result<FollowedStream> open(const std::string& name,
                                                     const ReaderOptions& options);

    [[nodiscard]] Reader& reader() { return reader_; }
    [[nodiscard]] const Reader& reader() const { return reader_; }

    // Switches to the segment now under the name, if it is another one.
    // Returns true if it switched. No lease may be held.
    [[nodiscard]] Result<bool> follow();

    // Totals over every segment followed so far.
    [[nodiscard]] std::uint64_t frames() const { return earlier_frames_ + reader_.frames(); }
    [[nodiscard]] std::uint64_t skipped() const { return earlier_skipped_ + reader_.skipped(); }
    // Switches to a segment of another writer process (not a shape change).
    [[nodiscard]] std::uint64_t writer_restarts() const { return writer_restarts_; }

  private:
    explicit FollowedStream(Reader reader) : reader_(std::move(reader)) {}

    Reader reader_;
    std::uint64_t earlier_frames_ = 0;
    std::uint64_t earlier_skipped_ = 0;
    std::uint64_t writer_restarts_ = 0;
};

}  // namespace framebus::reader
