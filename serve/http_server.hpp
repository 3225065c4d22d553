// The HTTP side (Boost.Beast, asynchronous, one I/O thread), after Beast's
// example/http/server/async/http_server_async.cpp: a listener accepting
// connections and one session object per connection, kept alive by the
// handlers it has pending (shared_from_this).
//
//   GET /                          the page (page/index.html)
//   GET /stream/NAME[?fps=&quality=&width=]   MJPEG
//   GET /snapshot/NAME.jpg|.png[?quality=&width=]  the newest frame once
//   GET /api/segments, /api/segments/NAME     framebus ls/info --json
//   GET /api/stats                 the server's counters
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

#include "feed_registry.hpp"
#include "frame_encoder.hpp"
#include "serve_stats.hpp"
#include "stream_client.hpp"

namespace framebus::serve {

struct ServerOptions {
    boost::asio::ip::tcp::endpoint listen{boost::asio::ip::make_address("127.0.0.1"), 8080};
    int quality = 80;     // default JPEG quality
    int scale_width = 0;  // default width of streams and JPEG snapshots; 0: the frame's own
    std::uint32_t max_clients = 64;
    std::chrono::milliseconds send_timeout{10000};
};

class Listener;

class HttpServer {
  public:
    HttpServer(boost::asio::io_context& io, const ServerOptions& options, FeedRegistry& registry,
               ServeStats& stats);
    ~HttpServer();

    // Binds and starts accepting; the error as one line on failure.
    [[nodiscard]] Status start();
    [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;
    // Stops accepting and waits for snapshot encodings to finish.
    void stop();

  private:
    boost::asio::io_context& io_;
    ServerOptions options_;
    FeedRegistry& registry_;
    ServeStats& stats_;
    boost::asio::thread_pool snapshot_pool_{1};  // snapshots encode off the I/O thread
    std::shared_ptr<Listener> listener_;
};

}  // namespace framebus::serve
