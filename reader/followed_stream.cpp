#include "followed_stream.hpp"

#include <utility>

namespace framebus::reader {

Result<FollowedStream> FollowedStream::open(const std::string& name, const ReaderOptions& options) {
    auto reader = Reader::open(name, options);
    if (!reader) return reader.error();
    return FollowedStream(std::move(*reader));
}

Result<bool> FollowedStream::follow() {
    // follow() replaces the reader's state, counters included: bank them first.
    const std::uint64_t frames = reader_.frames();
    const std::uint64_t skipped = reader_.skipped();
    const std::uint32_t writer_pid = reader_.writer_pid();
    auto switched = reader_.follow();
    if (!switched || !*switched) return switched;
    earlier_frames_ += frames;
    earlier_skipped_ += skipped;
    if (reader_.writer_pid() != writer_pid) ++writer_restarts_;
    return true;
}

}  // namespace framebus::reader
