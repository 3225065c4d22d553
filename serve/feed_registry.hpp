// The segment feeds of the server by name (I/O thread only): a feed is made
// when the first client watches a segment and stopped when the last one goes,
// so nothing is read or encoded for segments nobody watches.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "segment_feed.hpp"

namespace framebus::serve {

class FeedRegistry {
  public:
    FeedRegistry(boost::asio::io_context& io, const FeedOptions& options, ServeStats& stats);

    // The feed of `name`, made now if nobody watches it yet.
    [[nodiscard]] Result<std::shared_ptr<SegmentFeed>> feed(const std::string& name);
    void unwatch(const std::shared_ptr<SegmentFeed>& feed, const FeedClient* client);

    // Stops and joins every feed thread (before the I/O context goes away).
    void shutdown();

  private:
    void schedule_reap();
    void reap();

    boost::asio::io_context& io_;
    FeedOptions options_;
    ServeStats& stats_;
    boost::asio::steady_timer reap_timer_;
    std::map<std::string, std::shared_ptr<SegmentFeed>> feeds_;
    std::vector<std::shared_ptr<SegmentFeed>> stopping_;  // threads ending; joined once finished
    bool shut_down_ = false;
};

}  // namespace framebus::serve
