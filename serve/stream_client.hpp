// One MJPEG response (multipart/x-mixed-replace), after RobotWebTools'
// web_video_server multipart_stream: the header once, then each part with its
// length. A part is written only when the previous one has gone out; frames
// that arrive meanwhile replace each other, so a slow client skips frames and
// never queues them, and costs the others nothing.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "segment_feed.hpp"
#include "serve_stats.hpp"

namespace framebus::serve {

class FeedRegistry;

struct StreamSettings {
    double fps = 0;  // 0: every frame; else at most this many parts a second
    std::chrono::milliseconds send_timeout{10000};
};

// Holds one of the server's client places; given back when the connection ends.
class ConnectionSlot {
  public:
    explicit ConnectionSlot(ServeStats& stats) : stats_(&stats) {
        stats_->connections.fetch_add(1, std::memory_order_relaxed);
    }
    ConnectionSlot(ConnectionSlot&& other) noexcept
        : stats_(std::exchange(other.stats_, nullptr)) {}
    ConnectionSlot& operator=(ConnectionSlot&&) = delete;
    ~ConnectionSlot() {
        if (stats_ != nullptr) stats_->connections.fetch_sub(1, std::memory_order_relaxed);
    }

  private:
    ServeStats* stats_;
};

class StreamClient : public FeedClient, public std::enable_shared_from_this<StreamClient> {
  public:
    StreamClient(boost::beast::tcp_stream stream, ConnectionSlot slot, FeedRegistry& registry,
                 ServeStats& stats, const StreamSettings& settings);
    ~StreamClient() override;

    // Writes the response header, then watches `feed` in `variant`.
    void start(std::shared_ptr<SegmentFeed> feed, const Variant& variant);

    void on_frame(const FramePtr& frame) override;
    void on_end_of_stream() override;

  private:
    void on_header_written(const boost::system::error_code& error);
    void watch_for_close();
    void write_next();
    void on_part_written(const boost::system::error_code& error);
    void finish();  // final boundary, then close
    void close();

    boost::beast::tcp_stream stream_;
    ConnectionSlot slot_;
    FeedRegistry& registry_;
    ServeStats& stats_;
    StreamSettings settings_;
    std::shared_ptr<SegmentFeed> feed_;
    std::string header_;
    FramePtr pending_;  // the newest frame not yet sent
    FramePtr sending_;  // kept alive while its bytes are being written
    std::uint64_t last_sent_ = 0;
    std::int64_t last_sent_ns_ = 0;
    bool writing_ = false;
    bool ending_ = false;
    bool closed_ = false;
    std::array<char, 64> discard_{};  // what the client sends after its request (nothing, usually)
};

}  // namespace framebus::serve
