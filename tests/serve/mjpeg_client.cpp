#include "mjpeg_client.hpp"

#include <sys/socket.h>
#include <time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace framebus::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::int64_t monotonic_ns() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

namespace {

void set_receive_timeout(tcp::socket& socket, std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

bool connect(tcp::socket& socket, unsigned short port) {
    beast::error_code error;
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), error);
    return !error;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

}  // namespace

std::optional<HttpReply> http_get(unsigned short port, const std::string& target,
                                  std::chrono::milliseconds timeout) {
    net::io_context io;
    tcp::socket socket(io);
    if (!connect(socket, port)) return std::nullopt;
    set_receive_timeout(socket, timeout);
    http::request<http::empty_body> request(http::verb::get, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(false);
    beast::error_code error;
    http::write(socket, request, error);
    if (error) return std::nullopt;
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response, error);
    if (error) return std::nullopt;
    HttpReply reply;
    reply.status = static_cast<int>(response.result_int());
    for (const auto& field : response)
        reply.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    reply.content_type = reply.headers["content-type"];
    reply.body = std::move(response.body());
    return reply;
}

MjpegStream::MjpegStream(unsigned short port, const std::string& target, int receive_buffer,
                         std::size_t read_chunk)
    : stream_(io_), read_chunk_(std::clamp<std::size_t>(read_chunk, 1, 65536)) {
    tcp::socket& socket = stream_.socket();
    beast::error_code opened;
    socket.open(tcp::v4(), opened);
    if (receive_buffer > 0)
        socket.set_option(net::socket_base::receive_buffer_size(receive_buffer), opened);
    if (!connect(socket, port)) {
        failure_ = "connect failed";
        return;
    }
    set_receive_timeout(socket, std::chrono::seconds(10));
    http::request<http::empty_body> request(http::verb::get, target, 11);
    request.set(http::field::host, "127.0.0.1");
    beast::error_code error;
    http::write(socket, request, error);
    if (error) {
        failure_ = "write: " + error.message();
        return;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;  // read_header only: the body is ours
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read_header(socket, buffer, parser, error);
    if (error) {
        failure_ = "read header: " + error.message();
        return;
    }
    connected_ = true;
    status_ = static_cast<int>(parser.get().result_int());
    content_type_ = std::string(parser.get()[http::field::content_type]);
    // What the header read took of the body stays ours.
    chunked_ = parser.chunked();
    (chunked_ ? raw_ : buffer_)
        .assign(static_cast<const char*>(buffer.data().data()), buffer.size());
    if (chunked_ && !dechunk()) {
        failure_ = "malformed chunked body";
        connected_ = false;
        return;
    }
    const std::string key = "boundary=";
    if (auto at = content_type_.find(key); at != std::string::npos)
        boundary_ = content_type_.substr(at + key.size());
    if (status_ != 200) {
        while (buffer_.size() < 4096 && fill(std::chrono::seconds(2))) {
        }
        error_body_ = buffer_;
    }
}

bool MjpegStream::fill(std::chrono::milliseconds timeout) {
    if (last_chunk_) return false;  // the chunked body has ended
    set_receive_timeout(stream_.socket(), timeout);
    char chunk[65536];
    beast::error_code error;
    const std::size_t got = stream_.socket().read_some(net::buffer(chunk, read_chunk_), error);
    if (error || got == 0) return false;
    if (!chunked_) {
        buffer_.append(chunk, got);
        return true;
    }
    raw_.append(chunk, got);
    return dechunk();
}

// RFC 9112 section 7.1: each chunk is HEX-SIZE[;extensions] CRLF, payload, CRLF;
// a chunk of size 0 (then trailers) ends the body.
bool MjpegStream::dechunk() {
    std::size_t at = 0;
    while (!last_chunk_) {
        if (chunk_left_ > 0) {
            const std::size_t take = std::min(chunk_left_, raw_.size() - at);
            if (take == 0) break;
            buffer_.append(raw_, at, take);
            at += take;
            chunk_left_ -= take;
            if (chunk_left_ == 0) chunk_crlf_ = true;
            continue;
        }
        if (chunk_crlf_) {
            if (raw_.size() - at < 2) break;
            if (raw_.compare(at, 2, "\r\n") != 0) return false;
            at += 2;
            chunk_crlf_ = false;
            continue;
        }
        const std::size_t line_end = raw_.find("\r\n", at);
        if (line_end == std::string::npos) break;
        std::size_t size = 0;
        const char* first = raw_.data() + at;
        const auto [end, error] = std::from_chars(first, raw_.data() + line_end, size, 16);
        if (error != std::errc() || end == first || (*end != ';' && end != raw_.data() + line_end))
            return false;
        at = line_end + 2;
        chunk_left_ = size;
        last_chunk_ = size == 0;
    }
    raw_.erase(0, at);
    return true;
}

bool MjpegStream::read_until(const std::string& marker, std::size_t& at,
                             std::chrono::milliseconds timeout) {
    while ((at = buffer_.find(marker)) == std::string::npos)
        if (!fill(timeout)) return false;
    return true;
}

std::optional<MjpegPart> MjpegStream::next(std::chrono::milliseconds timeout) {
    if (!connected_ || status_ != 200) return std::nullopt;
    std::size_t header_end = 0;
    // The final boundary ends the response without a part header after it.
    const std::string closing = "--" + boundary_ + "--";
    while (buffer_.find("\r\n\r\n") == std::string::npos) {
        if (buffer_.starts_with(closing)) {
            ended_cleanly_ = true;
            return std::nullopt;
        }
        if (!fill(timeout)) {
            ended_cleanly_ = buffer_.starts_with(closing);
            return std::nullopt;
        }
    }
    if (!read_until("\r\n\r\n", header_end, timeout)) return std::nullopt;
    const std::string header = buffer_.substr(0, header_end + 2);
    if (!header.starts_with("--" + boundary_ + "\r\n")) return std::nullopt;  // malformed
    MjpegPart part;
    std::size_t length = 0;
    std::size_t line_start = header.find("\r\n") + 2;
    while (line_start < header.size()) {
        const std::size_t line_end = header.find("\r\n", line_start);
        const std::string line = header.substr(line_start, line_end - line_start);
        line_start = line_end + 2;
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string name = lower(line.substr(0, colon));
        const std::string value = line.substr(line.find_first_not_of(' ', colon + 1));
        if (name == "content-length") length = std::stoull(value);
        if (name == "content-type") part.content_type = value;
        if (name == "x-framebus-sequence") part.sequence = std::stoull(value);
        if (name == "x-framebus-publish-ns") part.publish_ns = std::stoll(value);
    }
    const std::size_t body_start = header_end + 4;
    while (buffer_.size() < body_start + length + 2)
        if (!fill(timeout)) return std::nullopt;
    part.received_ns = monotonic_ns();
    part.jpeg = buffer_.substr(body_start, length);
    buffer_.erase(0, body_start + length + 2);
    return part;
}

void MjpegStream::close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
}

}  // namespace framebus::test
