#include "segment_feed.hpp"

#include <fmt/format.h>
#include <boost/asio/post.hpp>

namespace framebus::serve {

namespace {
// How long the feed thread blocks in wait() before looking at its stop flag.
constexpr auto kStopCheck = std::chrono::milliseconds(50);
// How often wait() is called while the name has no writer (it looks for one).
constexpr auto kFollowPoll = std::chrono::milliseconds(200);
}  // namespace

Result<std::shared_ptr<SegmentFeed>> SegmentFeed::open(boost::asio::io_context& io,
                                                       const std::string& name,
                                                       const FeedOptions& options,
                                                       ServeStats& stats) {
    ReaderOptions reader_options;
    reader_options.follow = true;  // across writer restarts and bigger frames
    auto reader = Reader::open(name, reader_options);
    if (!reader) return reader.error();
    std::shared_ptr<SegmentFeed> feed(
        new SegmentFeed(io, name, std::move(*reader), options, stats));
    feed->thread_ = std::jthread([raw = feed.get()](std::stop_token stop) { raw->run(stop); });
    stats.feeds.fetch_add(1, std::memory_order_relaxed);
    return feed;
}

SegmentFeed::SegmentFeed(boost::asio::io_context& io, std::string name, Reader reader,
                         const FeedOptions& options, ServeStats& stats)
    : io_(io),
      name_(std::move(name)),
      reader_(std::move(reader)),
      options_(options),
      stats_(stats) {}

SegmentFeed::~SegmentFeed() {
    request_stop();
    join();
    stats_.feeds.fetch_sub(1, std::memory_order_relaxed);
}

void SegmentFeed::request_stop() {
    thread_.request_stop();
    std::lock_guard lock(mutex_);
    wake_.notify_all();
}

void SegmentFeed::join() {
    if (thread_.joinable()) thread_.join();
}

void SegmentFeed::subscribe(const std::shared_ptr<FeedClient>& client, const Variant& variant) {
    clients_[client.get()] = Watcher{client, variant};
    {
        std::lock_guard lock(mutex_);
        if (variants_[variant]++ == 0) ++variants_version_;
    }
    wake_.notify_all();
    if (auto newest = newest_.find(variant); newest != newest_.end())
        client->on_frame(newest->second);
}

void SegmentFeed::unsubscribe(const FeedClient* client) {
    auto found = clients_.find(client);
    if (found == clients_.end()) return;
    const Variant variant = found->second.variant;
    clients_.erase(found);
    std::lock_guard lock(mutex_);
    if (--variants_[variant] == 0) {
        variants_.erase(variant);
        newest_.erase(variant);
        ++variants_version_;
    }
}

bool SegmentFeed::wait_for_stop(std::stop_token& stop, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return wake_.wait_for(lock, stop, timeout, [] { return false; });
}

void SegmentFeed::run(std::stop_token stop) {
    FrameEncoder encoder;
    std::map<Variant, std::uint64_t> encoded;  // the sequence each variant was last encoded at
    std::vector<Variant> variants;
    std::uint64_t seen_version = ~std::uint64_t{0};
    bool end_told = false;
    while (!stop.stop_requested()) {
        bool new_variants = false;
        {
            std::lock_guard lock(mutex_);
            if (variants_version_ != seen_version) {
                seen_version = variants_version_;
                variants.clear();
                for (const auto& [variant, count] : variants_) variants.push_back(variant);
                new_variants = true;
            }
        }
        switch (reader_.wait(kStopCheck)) {
            case WaitStatus::frame:
                encode_newest(encoder, encoded, variants);
                break;
            case WaitStatus::timed_out:
                // A client with a new variant of a stalled stream gets the last frame.
                if (new_variants) encode_newest(encoder, encoded, variants);
                break;
            case WaitStatus::followed:  // a new writer or a bigger frame: sequences start over
                encoded.clear();
                end_told = false;
                break;
            case WaitStatus::end_of_stream:
                if (!end_told)
                    boost::asio::post(io_, [self = weak_from_this()] {
                        if (auto feed = self.lock()) feed->deliver_end_of_stream();
                    });
                end_told = true;
                [[fallthrough]];
            case WaitStatus::writer_gone:
            case WaitStatus::replaced:
                // The reader looks for a new writer on the next wait() calls; clients
                // of a dead writer keep their last frame and their connection.
                wait_for_stop(stop, kFollowPoll);
                break;
        }
    }
    reader_.close();  // the reader entry goes back to the segment now
    finished_.store(true, std::memory_order_release);
}

void SegmentFeed::encode_newest(FrameEncoder& encoder, std::map<Variant, std::uint64_t>& encoded,
                                const std::vector<Variant>& variants) {
    if (variants.empty()) return;
    if (options_.max_fps > 0) {
        const std::int64_t now = now_ns();
        if (now - last_encode_ns_ < static_cast<std::int64_t>(1e9 / options_.max_fps)) return;
    }
    auto lease = reader_.latest();
    if (!lease) return;
    std::vector<std::pair<Variant, FramePtr>> frames;
    const std::uint64_t sequence = lease->sequence();
    for (const Variant& variant : variants) {
        std::uint64_t& done = encoded[variant];
        if (done == sequence) continue;  // once per frame per variant
        done = sequence;
        EncodedBytes jpeg = encoder.jpeg(lease->data(), lease->format(), variant);
        if (jpeg.empty()) {
            stats_.encode_failures.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        stats_.encodes.fetch_add(1, std::memory_order_relaxed);
        const cv::Size size = output_size(lease->format(), variant.width);
        const std::int64_t publish_ns = lease->info().publish_ns;
        std::string part_header = fmt::format(
            "--{}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n"
            "X-Framebus-Sequence: {}\r\nX-Framebus-Publish-Ns: {}\r\n\r\n",
            kBoundary, jpeg.size(), sequence, publish_ns);
        frames.emplace_back(variant, std::make_shared<const EncodedFrame>(EncodedFrame{
                                         std::move(part_header), std::move(jpeg), sequence,
                                         publish_ns, size.width, size.height}));
    }
    lease->release();  // the writer may reuse the slot from here on
    if (frames.empty()) return;
    last_encode_ns_ = now_ns();
    boost::asio::post(io_, [self = weak_from_this(), frames = std::move(frames)] {
        if (auto feed = self.lock()) feed->deliver(frames);
    });
}

void SegmentFeed::deliver(const std::vector<std::pair<Variant, FramePtr>>& frames) {
    for (const auto& [variant, frame] : frames) {
        auto wanted = newest_.find(variant);
        if (wanted == newest_.end() && variants_.count(variant) == 0) continue;  // nobody left
        newest_[variant] = frame;
    }
    // Copies of the pointers: a client may unsubscribe (and others with it) while we call.
    std::vector<std::pair<std::shared_ptr<FeedClient>, Variant>> watchers;
    for (const auto& [key, watcher] : clients_)
        if (auto client = watcher.client.lock()) watchers.emplace_back(client, watcher.variant);
    for (const auto& [client, variant] : watchers)
        if (auto newest = newest_.find(variant); newest != newest_.end())
            client->on_frame(newest->second);
}

void SegmentFeed::deliver_end_of_stream() {
    newest_.clear();
    std::vector<std::shared_ptr<FeedClient>> watchers;
    for (const auto& [key, watcher] : clients_)
        if (auto client = watcher.client.lock()) watchers.push_back(client);
    for (const auto& client : watchers) client->on_end_of_stream();
}

}  // namespace framebus::serve
