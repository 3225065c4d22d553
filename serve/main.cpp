// framebus-serve: every framebus segment on this machine in the browser.
//
//   framebus-serve [--listen 127.0.0.1:8080] [--quality 80] [--max-fps F] [--scale W]
//
// Exit codes: 0 on SIGINT/SIGTERM; 1 if serving failed; 2 usage error (one line).
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "feed_registry.hpp"
#include "http_server.hpp"
#include "serve_stats.hpp"

namespace {

namespace net = boost::asio;
using namespace framebus::serve;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int fail(const std::string& message, int code) {
    fmt::print(stderr, "framebus-serve: error: {}\n", message);
    return code;
}

// "HOST:PORT" ("[v6]:PORT" for IPv6).
std::optional<net::ip::tcp::endpoint> parse_listen(const std::string& text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const std::string port_text = text.substr(colon + 1);
    unsigned port = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
        port_text.empty())
        return std::nullopt;
    boost::system::error_code bad;
    const auto address = net::ip::make_address(host, bad);
    if (bad) return std::nullopt;
    return net::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"framebus-serve: every framebus segment in the browser (MJPEG, snapshots, JSON)",
                 "framebus-serve"};
    std::string listen = "127.0.0.1:8080";
    ServerOptions server_options;
    FeedOptions feed_options;
    double send_timeout_seconds = 10;
    bool quiet = false;
    app.add_option("--listen", listen,
                   "HOST:PORT to listen on (port 0: any free port); another address than "
                   "127.0.0.1 makes the frames visible to other machines")
        ->capture_default_str();
    app.add_option("--quality", server_options.quality, "default JPEG quality")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("--max-fps", feed_options.max_fps,
                   "encode at most this many frames a second per segment (0: every frame)")
        ->check(CLI::Range(0.0, 1000.0));
    app.add_option("--scale", server_options.scale_width,
                   "default width of streams and JPEG snapshots (0: the frame's own)")
        ->check(CLI::Range(0, 16384));
    app.add_option("--max-clients", server_options.max_clients, "connections at once; more get 503")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("--send-timeout", send_timeout_seconds,
                   "seconds a client may take to receive one part before it is dropped")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    app.add_flag("--quiet", quiet, "no status line at start");
    app.set_version_flag("--version", "framebus-serve " FRAMEBUS_VERSION);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        if (error.get_exit_code() == 0) return app.exit(error);
        return fail(error.what(), kExitUsage);
    }
    const auto endpoint = parse_listen(listen);
    if (!endpoint)
        return fail(fmt::format("--listen '{}' is not HOST:PORT (e.g. 127.0.0.1:8080)", listen),
                    kExitUsage);
    server_options.listen = *endpoint;
    server_options.send_timeout =
        std::chrono::milliseconds(static_cast<std::int64_t>(send_timeout_seconds * 1000));
    std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error code, not a signal

    // Declaration order is teardown order in reverse: the stats outlive everything.
    ServeStats stats;
    net::io_context io(1);
    FeedRegistry registry(io, feed_options, stats);
    HttpServer server(io, server_options, registry, stats);
    if (auto started = server.start(); !started) return fail(started.error().message, kExitUsage);

    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& error, int) {
        if (error) return;
        server.stop();
        registry.shutdown();  // no feed thread posts to the I/O context after this
        io.stop();            // open connections are closed as their handlers are destroyed
    });
    const auto at = server.local_endpoint();
    if (!quiet)
        fmt::print(stderr, "framebus-serve: listening on http://{}:{}/\n", at.address().to_string(),
                   at.port());
    std::fflush(stderr);
    try {
        io.run();
    } catch (const std::exception& error) {
        registry.shutdown();
        return fail(error.what(), kExitFailed);
    }
    fmt::print(
        "serve summary: encodes={} encode_failures={} parts_sent={} snapshots={} "
        "requests={} rejected={}\n",
        stats.encodes.load(), stats.encode_failures.load(), stats.parts_sent.load(),
        stats.snapshots.load(), stats.requests.load(), stats.rejected.load());
    return kExitOk;
}
