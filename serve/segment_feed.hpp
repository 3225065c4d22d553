// One watched segment: a thread that follows the name, waits for new frames
// and, while at least one client watches, encodes each new frame once per
// variant (quality, width) straight from the leased slot. The lease is held
// only while encoding. Encoded frames go to the clients on the I/O thread;
// each client sends the newest one when its previous part has gone out.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "frame_encoder.hpp"
#include "framebus/error.hpp"
#include "framebus/reader.hpp"
#include "serve_stats.hpp"

namespace framebus::serve {

inline constexpr std::string_view kBoundary = "framebusframe";  // of the MJPEG responses

// One frame of one variant as every client's MJPEG part: made once on the
// feed thread, then only read; clients send it as scatter/gather buffers
// (part_header, jpeg, CRLF), no copies and no formatting per client.
struct EncodedFrame {
    std::string part_header;  // boundary line and part headers, up to the blank line
    EncodedBytes jpeg;
    std::uint64_t sequence = 0;
    std::int64_t publish_ns = 0;  // the bus's clock (CLOCK_MONOTONIC): frame age at the client
    int width = 0;
    int height = 0;
};
using FramePtr = std::shared_ptr<const EncodedFrame>;

// A watcher of a feed (an MJPEG response). Called on the I/O thread only.
class FeedClient {
  public:
    virtual ~FeedClient() = default;
    virtual void on_frame(const FramePtr& frame) = 0;
    virtual void on_end_of_stream() = 0;  // the writer ended the stream
};

struct FeedOptions {
    double max_fps = 0;  // 0: every frame the writer publishes
};

class SegmentFeed : public std::enable_shared_from_this<SegmentFeed> {
  public:
    // Attaches a reader to the segment now (errors: no such segment, ...).
    [[nodiscard]] static Result<std::shared_ptr<SegmentFeed>> open(boost::asio::io_context& io,
                                                                   const std::string& name,
                                                                   const FeedOptions& options,
                                                                   ServeStats& stats);
    ~SegmentFeed();  // stops and joins the thread
    SegmentFeed(const SegmentFeed&) = delete;
    SegmentFeed& operator=(const SegmentFeed&) = delete;

    // I/O thread. A new client gets the newest frame of its variant at once.
    void subscribe(const std::shared_ptr<FeedClient>& client, const Variant& variant);
    void unsubscribe(const FeedClient* client);
    [[nodiscard]] bool watched() const { return !clients_.empty(); }
    [[nodiscard]] const std::string& name() const { return name_; }

    void request_stop();  // the thread ends within one wait (50 ms)
    void join();          // after request_stop(): nothing is posted to the I/O context after it
    [[nodiscard]] bool finished() const { return finished_.load(std::memory_order_acquire); }

  private:
    SegmentFeed(boost::asio::io_context& io, std::string name, Reader reader,
                const FeedOptions& options, ServeStats& stats);
    void run(std::stop_token stop);
    void encode_newest(FrameEncoder& encoder, std::map<Variant, std::uint64_t>& encoded,
                       const std::vector<Variant>& variants);
    void deliver(const std::vector<std::pair<Variant, FramePtr>>& frames);  // I/O thread
    void deliver_end_of_stream();                                           // I/O thread
    bool wait_for_stop(std::stop_token& stop, std::chrono::milliseconds timeout);

    boost::asio::io_context& io_;
    std::string name_;
    Reader reader_;  // the feed thread's alone once it runs
    FeedOptions options_;
    ServeStats& stats_;
    std::int64_t last_encode_ns_ = 0;

    // I/O thread only.
    struct Watcher {
        std::weak_ptr<FeedClient> client;
        Variant variant;
    };
    std::map<const FeedClient*, Watcher> clients_;
    std::map<Variant, FramePtr> newest_;

    // Shared with the feed thread: the variants wanted now (with a count of clients).
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::map<Variant, int> variants_;
    std::uint64_t variants_version_ = 0;

    std::atomic<bool> finished_{false};  // release: the thread touches nothing after it
    std::jthread thread_;                // last: started once everything above exists
};

}  // namespace framebus::serve
