// The MJPEG client of the tests and of bench/serve_bench.py against a chunked
// response, as Werkzeug (the Flask baseline) sends it: chunk boundaries fall
// anywhere in the multipart body, and the client must see the parts intact.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <string>
#include <thread>

#include "mjpeg_client.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string part(const std::string& payload, int sequence) {
    return fmt::format(
        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n"
        "X-Framebus-Sequence: {}\r\nX-Framebus-Publish-Ns: {}\r\n\r\n{}\r\n",
        payload.size(), sequence, 1000 + sequence, payload);
}

TEST(MjpegClient, ReadsPartsOfAChunkedBodyWhereverTheChunksSplitThem) {
    const std::string first(3000, 'a'), second = "\r\n--frame\r\n looks like a boundary";
    const std::string body = part(first, 1) + part(second, 2) + "--frame--\r\n";
    net::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    std::thread server([&] {
        tcp::socket socket(io);
        acceptor.accept(socket);
        net::streambuf request;
        net::read_until(socket, request, "\r\n\r\n");
        std::string response =
            "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n"
            "Transfer-Encoding: chunked\r\n\r\n";
        // Chunks of 1, 7, 100, 1 ... bytes (one with an extension), then the last chunk.
        const std::size_t sizes[] = {1, 7, 100, 1, 2999, 13};
        std::size_t at = 0;
        for (std::size_t i = 0; at < body.size(); ++i) {
            const std::size_t size = std::min(sizes[i % std::size(sizes)], body.size() - at);
            response += fmt::format("{:x}{}\r\n", size, i == 2 ? ";ext=1" : "");
            response += body.substr(at, size) + "\r\n";
            at += size;
        }
        response += "0\r\n\r\n";
        // Byte by byte at first: the client must wait for chunk headers split across reads.
        for (std::size_t i = 0; i < 200; ++i) net::write(socket, net::buffer(&response[i], 1));
        net::write(socket, net::buffer(response.substr(200)));
    });

    MjpegStream stream(acceptor.local_endpoint().port(), "/video_feed");
    ASSERT_TRUE(stream.connected()) << stream.failure();
    EXPECT_EQ(stream.boundary(), "frame");
    auto one = stream.next(5s);
    ASSERT_TRUE(one);
    EXPECT_EQ(one->sequence, 1u);
    EXPECT_EQ(one->publish_ns, 1001);
    EXPECT_EQ(one->jpeg, first);
    auto two = stream.next(5s);
    ASSERT_TRUE(two);
    EXPECT_EQ(two->sequence, 2u);
    EXPECT_EQ(two->jpeg, second);
    EXPECT_FALSE(stream.next(5s));
    EXPECT_TRUE(stream.ended_cleanly());
    server.join();
}

}  // namespace
}  // namespace framebus::test
