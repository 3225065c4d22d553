#include "stream_client.hpp"

#include <fmt/format.h>
#include <boost/asio/write.hpp>

#include "feed_registry.hpp"

namespace framebus::serve {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {
constexpr int kSendBufferBytes = 64 * 1024;  // the kernel doubles it: ~4 parts of 640x480
constexpr std::string_view kPartEnd = "\r\n";
const std::string kFinalBoundary = fmt::format("--{}--\r\n", kBoundary);
}  // namespace

StreamClient::StreamClient(beast::tcp_stream stream, ConnectionSlot slot, FeedRegistry& registry,
                           ServeStats& stats, const StreamSettings& settings)
    : stream_(std::move(stream)),
      slot_(std::move(slot)),
      registry_(registry),
      stats_(stats),
      settings_(settings) {
    stats_.streams.fetch_add(1, std::memory_order_relaxed);
}

StreamClient::~StreamClient() {
    stats_.streams.fetch_sub(1, std::memory_order_relaxed);
}

void StreamClient::start(std::shared_ptr<SegmentFeed> feed, const Variant& variant) {
    feed_ = std::move(feed);
    // What sits in the kernel's send buffer goes out whatever newer frames come:
    // a bounded buffer bounds how old a slow client's frames get (autotuning
    // would let it grow to megabytes, seconds of video at a part a second).
    boost::system::error_code ignored;
    stream_.socket().set_option(net::socket_base::send_buffer_size(kSendBufferBytes), ignored);
    // No Content-Length: the body is the stream, ended by closing the connection.
    header_ = fmt::format(
        "HTTP/1.1 200 OK\r\n"
        "Server: framebus-serve\r\n"
        "Content-Type: multipart/x-mixed-replace; boundary={}\r\n"
        "Cache-Control: no-cache, no-store, must-revalidate\r\n"
        "Pragma: no-cache\r\n"
        "Connection: close\r\n"
        "\r\n",
        kBoundary);
    writing_ = true;
    stream_.expires_after(settings_.send_timeout);
    net::async_write(
        stream_, net::buffer(header_),
        [self = shared_from_this(), variant](const boost::system::error_code& error, std::size_t) {
            self->on_header_written(error);
            if (!self->closed_) self->feed_->subscribe(self, variant);
        });
}

void StreamClient::on_header_written(const boost::system::error_code& error) {
    writing_ = false;
    if (error) return close();
    watch_for_close();
}

// The client sends nothing more; a read that ends is the client going away,
// seen at once even while the segment has no new frame to write.
void StreamClient::watch_for_close() {
    stream_.socket().async_read_some(
        net::buffer(discard_),
        [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
            if (error) return self->close();
            self->watch_for_close();
        });
}

void StreamClient::on_frame(const FramePtr& frame) {
    if (closed_ || ending_) return;
    pending_ = frame;
    if (!writing_) write_next();
}

void StreamClient::on_end_of_stream() {
    if (closed_) return;
    ending_ = true;
    if (!writing_) finish();
}

void StreamClient::write_next() {
    if (!pending_ || pending_->sequence == last_sent_) return;
    if (settings_.fps > 0 && last_sent_ns_ != 0) {
        // 10% slack: a 30 fps stream asked for at 10 fps sends every third frame.
        const auto interval = static_cast<std::int64_t>(0.9e9 / settings_.fps);
        if (now_ns() - last_sent_ns_ < interval) return;  // a newer frame will come
    }
    sending_ = std::move(pending_);
    // The frame's own bytes, shared with every other client of its variant.
    const std::array<net::const_buffer, 3> part{
        net::buffer(sending_->part_header),
        net::buffer(sending_->jpeg.data(), sending_->jpeg.size()), net::buffer(kPartEnd)};
    writing_ = true;
    stream_.expires_after(settings_.send_timeout);
    net::async_write(stream_, part,
                     [self = shared_from_this()](const boost::system::error_code& error,
                                                 std::size_t) { self->on_part_written(error); });
}

void StreamClient::on_part_written(const boost::system::error_code& error) {
    writing_ = false;
    if (error) return close();  // gone, or slower than the send timeout
    stats_.parts_sent.fetch_add(1, std::memory_order_relaxed);
    last_sent_ = sending_->sequence;
    last_sent_ns_ = now_ns();
    sending_.reset();
    if (ending_) return finish();
    write_next();
}

void StreamClient::finish() {
    writing_ = true;
    stream_.expires_after(settings_.send_timeout);
    net::async_write(stream_, net::buffer(kFinalBoundary),
                     [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
                         self->writing_ = false;
                         self->close();
                     });
}

void StreamClient::close() {
    if (closed_) return;
    closed_ = true;
    if (feed_) {
        registry_.unwatch(feed_, this);
        feed_.reset();
    }
    boost::system::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
}

}  // namespace framebus::serve
