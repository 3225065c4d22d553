#include "feed_registry.hpp"

#include <algorithm>

namespace framebus::serve {

namespace {
constexpr auto kReapInterval = std::chrono::milliseconds(250);
}

FeedRegistry::FeedRegistry(boost::asio::io_context& io, const FeedOptions& options,
                           ServeStats& stats)
    : io_(io), options_(options), stats_(stats), reap_timer_(io) {
    schedule_reap();
}

Result<std::shared_ptr<SegmentFeed>> FeedRegistry::feed(const std::string& name) {
    if (auto found = feeds_.find(name); found != feeds_.end()) return found->second;
    auto opened = SegmentFeed::open(io_, name, options_, stats_);
    if (!opened) return opened.error();
    feeds_.emplace(name, *opened);
    return *opened;
}

void FeedRegistry::unwatch(const std::shared_ptr<SegmentFeed>& feed, const FeedClient* client) {
    feed->unsubscribe(client);
    if (feed->watched()) return;
    auto found = feeds_.find(feed->name());
    if (found == feeds_.end() || found->second != feed) return;
    feed->request_stop();  // the last client left: stop reading and encoding
    stopping_.push_back(feed);
    feeds_.erase(found);
}

void FeedRegistry::schedule_reap() {
    if (shut_down_) return;
    reap_timer_.expires_after(kReapInterval);
    reap_timer_.async_wait([this](const boost::system::error_code& error) {
        if (error) return;
        reap();
        schedule_reap();
    });
}

void FeedRegistry::reap() {
    // A feed made for a request that never subscribed (its response failed).
    for (auto it = feeds_.begin(); it != feeds_.end();) {
        if (it->second->watched()) {
            ++it;
            continue;
        }
        it->second->request_stop();
        stopping_.push_back(it->second);
        it = feeds_.erase(it);
    }
    // Finished threads join at once: the reader entries go back to the segment.
    std::erase_if(stopping_, [](const auto& feed) { return feed->finished(); });
}

void FeedRegistry::shutdown() {
    shut_down_ = true;
    reap_timer_.cancel();
    for (auto& [name, feed] : feeds_) feed->request_stop();
    for (auto& feed : stopping_) feed->request_stop();
    for (auto& [name, feed] : feeds_) feed->join();
    for (auto& feed : stopping_) feed->join();
}

}  // namespace framebus::serve
