#include "http_server.hpp"

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "framebus/name.hpp"
#include "page.hpp"
#include "segment_api.hpp"

namespace framebus::serve {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr auto kSnapshotFrameWait = std::chrono::seconds(1);

using Response = http::response<http::string_body>;

struct Reply {
    http::status status = http::status::ok;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::uint64_t sequence = 0;  // of the frame in a snapshot
    std::int64_t publish_ns = 0;
};

Reply error_reply(http::status status, std::string_view message) {
    return Reply{status, "text/plain; charset=utf-8", fmt::format("framebus-serve: {}\n", message)};
}

// Query parameters of a target (after '?'); nullopt if malformed or repeated.
std::optional<std::map<std::string, std::string, std::less<>>> parse_query(std::string_view query) {
    std::map<std::string, std::string, std::less<>> params;
    while (!query.empty()) {
        const std::size_t end = query.find('&');
        const std::string_view pair = query.substr(0, end);
        query = end == std::string_view::npos ? std::string_view{} : query.substr(end + 1);
        const std::size_t equals = pair.find('=');
        if (equals == 0 || equals == std::string_view::npos) return std::nullopt;
        if (!params.emplace(pair.substr(0, equals), pair.substr(equals + 1)).second)
            return std::nullopt;
    }
    return params;
}

std::optional<double> parse_number(std::string_view text, double min, double max) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    if (!(value >= min && value <= max)) return std::nullopt;
    return value;
}

// The parameters of a stream or snapshot: only the names in `allowed`, each in range.
struct FrameParams {
    Variant variant;
    double fps = 0;
};
std::optional<std::string> read_params(std::string_view query, bool allow_fps,
                                       const ServerOptions& options, FrameParams& out) {
    out.variant = Variant{options.quality, options.scale_width};
    auto params = parse_query(query);
    if (!params) return "malformed query string";
    for (const auto& [key, text] : *params) {
        if (key == "quality") {
            auto value = parse_number(text, 1, 100);
            if (!value || *value != static_cast<int>(*value)) return "quality must be 1..100";
            out.variant.quality = static_cast<int>(*value);
        } else if (key == "width") {
            auto value = parse_number(text, 1, 16384);
            if (!value || *value != static_cast<int>(*value)) return "width must be 1..16384";
            out.variant.width = static_cast<int>(*value);
        } else if (key == "fps" && allow_fps) {
            auto value = parse_number(text, 0.01, 1000);
            if (!value) return "fps must be a number in 0.01..1000";
            out.fps = *value;
        } else {
            return fmt::format("unknown parameter '{}'", key);
        }
    }
    return std::nullopt;
}

http::status status_of(const Error& error) {
    switch (error.code) {
        case Errc::not_found:
        case Errc::invalid_name:
        case Errc::not_framebus:
            return http::status::not_found;
        default:
            return http::status::service_unavailable;  // corrupt, too many readers, ...
    }
}

// The newest frame of `name`, encoded once (on the snapshot pool, not the I/O thread).
Reply take_snapshot(const std::string& name, bool png, const Variant& variant, ServeStats& stats) {
    auto reader = Reader::open(name);
    if (!reader) return error_reply(status_of(reader.error()), reader.error().message);
    auto lease = reader->latest();
    if (!lease && lease.error().code == Errc::no_frame &&
        reader->wait(kSnapshotFrameWait) == WaitStatus::frame)
        lease = reader->latest();
    if (!lease)
        return error_reply(http::status::service_unavailable,
                           fmt::format("no frame in segment '{}' yet", name));
    FrameEncoder encoder;
    EncodedBytes bytes = png ? encoder.png(lease->data(), lease->format())
                             : encoder.jpeg(lease->data(), lease->format(), variant);
    Reply reply;
    reply.sequence = lease->sequence();
    reply.publish_ns = lease->info().publish_ns;
    lease->release();
    if (bytes.empty())
        return error_reply(http::status::service_unavailable,
                           fmt::format("cannot encode the pixel format of segment '{}'", name));
    stats.snapshots.fetch_add(1, std::memory_order_relaxed);
    reply.content_type = png ? "image/png" : "image/jpeg";
    reply.body.assign(static_cast<const char*>(bytes.data()), bytes.size());
    return reply;
}

std::string stats_json(const ServeStats& stats) {
    auto get = [](const std::atomic<std::uint64_t>& counter) {
        return counter.load(std::memory_order_relaxed);
    };
    nlohmann::json json = {
        {"schema", "framebus.serve.stats/1"},
        {"encodes", get(stats.encodes)},
        {"encode_failures", get(stats.encode_failures)},
        {"parts_sent", get(stats.parts_sent)},
        {"snapshots", get(stats.snapshots)},
        {"requests", get(stats.requests)},
        {"rejected", get(stats.rejected)},
        {"connections", get(stats.connections)},
        {"streams", get(stats.streams)},
        {"feeds", get(stats.feeds)},
    };
    return json.dump(2) + "\n";
}

}  // namespace

class HttpSession : public std::enable_shared_from_this<HttpSession> {
  public:
    HttpSession(tcp::socket socket, std::optional<ConnectionSlot> slot,
                const ServerOptions& options, FeedRegistry& registry, ServeStats& stats,
                net::thread_pool& pool)
        : stream_(std::move(socket)),
          slot_(std::move(slot)),
          options_(options),
          registry_(registry),
          stats_(stats),
          pool_(pool) {}

    void run() { do_read(); }

  private:
    void do_read() {
        request_ = {};
        stream_.expires_after(kRequestTimeout);
        http::async_read(stream_, buffer_, request_,
                         [self = shared_from_this()](beast::error_code error, std::size_t) {
                             self->on_read(error);
                         });
    }

    void on_read(beast::error_code error) {
        if (error == http::error::end_of_stream) return do_close();
        if (error) return;  // timeout, reset, or an unparsable request: drop the connection
        stats_.requests.fetch_add(1, std::memory_order_relaxed);
        if (!slot_) {
            stats_.rejected.fetch_add(1, std::memory_order_relaxed);
            keep_alive_ = false;
            return send(error_reply(http::status::service_unavailable,
                                    fmt::format("too many clients (at most {}); try again later",
                                                options_.max_clients)));
        }
        keep_alive_ = request_.keep_alive();
        route();
    }

    void route() {
        if (request_.method() != http::verb::get && request_.method() != http::verb::head)
            return send(error_reply(http::status::method_not_allowed, "only GET and HEAD"));
        const std::string_view target(request_.target().data(), request_.target().size());
        const std::size_t question = target.find('?');
        const std::string_view path = target.substr(0, question);
        const std::string_view query =
            question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

        if (path == "/" || path == "/index.html") {
            if (!query.empty())
                return send(error_reply(http::status::bad_request, "no parameters"));
            return send(
                Reply{http::status::ok, "text/html; charset=utf-8", std::string(index_page())});
        }
        if (path == "/api/stats")
            return send(Reply{http::status::ok, "application/json", stats_json(stats_)});
        if (path == "/api/segments")
            return send(Reply{http::status::ok, "application/json", segments_json()});
        if (path.starts_with("/api/segments/")) {
            const std::string name(path.substr(std::string_view("/api/segments/").size()));
            if (!validate_name(name)) return not_found(name);
            auto json = segment_json(name);
            if (!json) return send(error_reply(status_of(json.error()), json.error().message));
            return send(Reply{http::status::ok, "application/json", std::move(*json)});
        }
        if (path.starts_with("/stream/")) {
            const std::string name(path.substr(std::string_view("/stream/").size()));
            return stream(name, query);
        }
        if (path.starts_with("/snapshot/")) {
            std::string_view file = path.substr(std::string_view("/snapshot/").size());
            const bool png = file.ends_with(".png");
            if (!png && !file.ends_with(".jpg")) return not_found(file);
            file.remove_suffix(4);
            return snapshot(std::string(file), png, query);
        }
        return send(error_reply(http::status::not_found, "no such page"));
    }

    void not_found(std::string_view name) {
        // Names are checked before anything reaches the file system: "../x" never does.
        send(error_reply(http::status::not_found, fmt::format("no segment named '{}'", name)));
    }

    void stream(const std::string& name, std::string_view query) {
        if (!validate_name(name)) return not_found(name);
        FrameParams params;
        if (auto bad = read_params(query, true, options_, params))
            return send(error_reply(http::status::bad_request, *bad));
        auto feed = registry_.feed(name);
        if (!feed) return send(error_reply(status_of(feed.error()), feed.error().message));
        auto client =
            std::make_shared<StreamClient>(std::move(stream_), std::move(*slot_), registry_, stats_,
                                           StreamSettings{params.fps, options_.send_timeout});
        slot_.reset();
        client->start(std::move(*feed), params.variant);
    }

    void snapshot(const std::string& name, bool png, std::string_view query) {
        if (!validate_name(name)) return not_found(name);
        FrameParams params;
        if (auto bad = read_params(query, false, options_, params))
            return send(error_reply(http::status::bad_request, *bad));
        net::post(pool_, [self = shared_from_this(), name, png, variant = params.variant] {
            Reply reply = take_snapshot(name, png, variant, self->stats_);
            net::post(self->stream_.get_executor(),
                      [self, reply = std::move(reply)]() mutable { self->send(std::move(reply)); });
        });
    }

    void send(Reply reply) {
        auto response = std::make_shared<Response>(reply.status, request_.version());
        response->set(http::field::server, "framebus-serve");
        response->set(http::field::content_type, reply.content_type);
        response->set(http::field::cache_control, "no-cache, no-store");
        if (reply.sequence != 0) {
            response->set("X-Framebus-Sequence", std::to_string(reply.sequence));
            response->set("X-Framebus-Publish-Ns", std::to_string(reply.publish_ns));
        }
        response->keep_alive(keep_alive_);
        response->body() = std::move(reply.body);
        response->prepare_payload();
        if (request_.method() == http::verb::head) response->body().clear();
        response_ = response;
        stream_.expires_after(options_.send_timeout);
        http::async_write(stream_, *response_,
                          [self = shared_from_this()](beast::error_code error, std::size_t) {
                              self->response_.reset();
                              if (error) return;
                              if (!self->keep_alive_) return self->do_close();
                              self->do_read();
                          });
    }

    void do_close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    beast::tcp_stream stream_;
    std::optional<ConnectionSlot> slot_;  // none: over the limit, answered with 503
    const ServerOptions& options_;
    FeedRegistry& registry_;
    ServeStats& stats_;
    net::thread_pool& pool_;
    beast::flat_buffer buffer_;
    http::request<http::empty_body> request_;
    std::shared_ptr<Response> response_;
    bool keep_alive_ = true;
};

class Listener : public std::enable_shared_from_this<Listener> {
  public:
    Listener(net::io_context& io, const ServerOptions& options, FeedRegistry& registry,
             ServeStats& stats, net::thread_pool& pool)
        : io_(io),
          acceptor_(io),
          options_(options),
          registry_(registry),
          stats_(stats),
          pool_(pool) {}

    Status open() {
        beast::error_code error;
        const tcp::endpoint& at = options_.listen;
        acceptor_.open(at.protocol(), error);
        if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
        if (!error) acceptor_.bind(at, error);
        if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
        if (error)
            return Error{Errc::system,
                         fmt::format("cannot listen on {}:{}: {}", at.address().to_string(),
                                     at.port(), error.message())};
        return ok_status();
    }
    void run() { do_accept(); }
    void stop() {
        beast::error_code ignored;
        acceptor_.close(ignored);
    }
    tcp::endpoint local_endpoint() const {
        beast::error_code ignored;
        return acceptor_.local_endpoint(ignored);
    }

  private:
    void do_accept() {
        acceptor_.async_accept(
            net::make_strand(io_),
            [self = shared_from_this()](beast::error_code error, tcp::socket socket) {
                if (error == net::error::operation_aborted) return;  // stopped
                if (!error) self->accept(std::move(socket));
                self->do_accept();
            });
    }

    void accept(tcp::socket socket) {
        std::optional<ConnectionSlot> slot;
        if (stats_.connections.load(std::memory_order_relaxed) < options_.max_clients)
            slot.emplace(stats_);
        std::make_shared<HttpSession>(std::move(socket), std::move(slot), options_, registry_,
                                      stats_, pool_)
            ->run();
    }

    net::io_context& io_;
    tcp::acceptor acceptor_;
    const ServerOptions& options_;
    FeedRegistry& registry_;
    ServeStats& stats_;
    net::thread_pool& pool_;
};

HttpServer::HttpServer(net::io_context& io, const ServerOptions& options, FeedRegistry& registry,
                       ServeStats& stats)
    : io_(io), options_(options), registry_(registry), stats_(stats) {}

HttpServer::~HttpServer() {
    stop();
}

Status HttpServer::start() {
    listener_ = std::make_shared<Listener>(io_, options_, registry_, stats_, snapshot_pool_);
    if (auto opened = listener_->open(); !opened) return opened;
    listener_->run();
    return ok_status();
}

tcp::endpoint HttpServer::local_endpoint() const {
    return listener_ ? listener_->local_endpoint() : tcp::endpoint{};
}

void HttpServer::stop() {
    if (listener_) listener_->stop();
    snapshot_pool_.join();
}

}  // namespace framebus::serve
