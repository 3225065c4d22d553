// A blocking HTTP client for the serve tests and the serve benchmark: plain
// requests, and MJPEG responses read part by part (each part's sequence,
// publish time and arrival time), over Boost.Beast on loopback. HTTP/1.1, as
// browsers ask: a body sent with Transfer-Encoding: chunked (Werkzeug's, for
// the Flask baseline) is de-chunked as it arrives.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace framebus::test {

struct HttpReply {
    int status = 0;
    std::string content_type;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

// One GET on a fresh connection; nullopt if the connection failed.
[[nodiscard]] std::optional<HttpReply> http_get(unsigned short port, const std::string& target,
                                                std::chrono::milliseconds timeout);

struct MjpegPart {
    std::uint64_t sequence = 0;
    std::int64_t publish_ns = 0;   // the server's X-Framebus-Publish-Ns (CLOCK_MONOTONIC)
    std::int64_t received_ns = 0;  // CLOCK_MONOTONIC when the last byte arrived
    std::string content_type;
    std::string jpeg;
};

class MjpegStream {
  public:
    // Connects and reads the response header (status, content type).
    // receive_buffer > 0 sets SO_RCVBUF; read_chunk is the most one read takes
    // from the socket (a slow client takes little more than the part it reads).
    MjpegStream(unsigned short port, const std::string& target, int receive_buffer = 0,
                std::size_t read_chunk = 65536);
    MjpegStream(const MjpegStream&) = delete;
    MjpegStream& operator=(const MjpegStream&) = delete;

    [[nodiscard]] bool connected() const { return connected_; }
    [[nodiscard]] const std::string& failure() const { return failure_; }  // why not connected
    [[nodiscard]] int status() const { return status_; }
    [[nodiscard]] const std::string& content_type() const { return content_type_; }
    [[nodiscard]] const std::string& boundary() const { return boundary_; }
    [[nodiscard]] const std::string& body_start() const { return error_body_; }  // non-200 body

    // The next part; nullopt at the end of the response, with ended_cleanly()
    // telling a final boundary ("--b--") from a connection that just closed or timed out.
    [[nodiscard]] std::optional<MjpegPart> next(std::chrono::milliseconds timeout);
    [[nodiscard]] bool ended_cleanly() const { return ended_cleanly_; }
    void close();

  private:
    bool fill(std::chrono::milliseconds timeout);  // more bytes of the body into buffer_
    bool dechunk();  // the whole chunks' payload in raw_ to buffer_; false if malformed
    bool read_until(const std::string& marker, std::size_t& at, std::chrono::milliseconds timeout);

    boost::asio::io_context io_;
    boost::beast::tcp_stream stream_;
    std::string buffer_;  // the body (de-chunked), not yet taken by next()
    std::string raw_;     // chunked bodies only: bytes as received, not yet de-chunked
    bool chunked_ = false;
    std::size_t chunk_left_ = 0;  // payload bytes of the current chunk still to come
    bool chunk_crlf_ = false;     // the CRLF after a chunk's payload is due
    bool last_chunk_ = false;     // the zero-size chunk came: the body has ended
    std::size_t read_chunk_;
    bool connected_ = false;
    std::string failure_;
    int status_ = 0;
    std::string content_type_;
    std::string boundary_;
    std::string error_body_;
    bool ended_cleanly_ = false;
};

[[nodiscard]] std::int64_t monotonic_ns();

}  // namespace framebus::test
