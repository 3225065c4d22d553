// The CLI's pieces that need no process: the JSON writer (every string it
// prints must parse back to what went in) and the fps arithmetic.
#include <gtest/gtest.h>

#include <boost/property_tree/json_parser.hpp>
#include <sstream>

#include "json_writer.hpp"
#include "segment_facts.hpp"

namespace framebus::cli {
namespace {

boost::property_tree::ptree parse(const std::string& text) {
    std::istringstream in(text);
    boost::property_tree::ptree tree;
    boost::property_tree::read_json(in, tree);
    return tree;
}

TEST(CliJsonWriter, EscapesStringsSoTheyParseBack) {
    const std::string nasty = std::string("quote \" backslash \\ newline \n tab \t bell \a nul ") +
                              '\0' + " del \x7f end";
    JsonWriter json;
    json.begin_object().field("text", nasty).end_object();
    EXPECT_EQ(parse(json.str()).get<std::string>("text"), nasty) << json.str();
    EXPECT_NE(json.str().find("\\u0000"), std::string::npos);
    EXPECT_NE(json.str().find("\\u0007"), std::string::npos);
}

TEST(CliJsonWriter, InvalidUtf8BecomesReplacementCharacters) {
    EXPECT_EQ(json_quote("ok \xc3\xa9"), "\"ok \xc3\xa9\"");  // valid UTF-8 passes through
    EXPECT_EQ(json_quote("\xff"), "\"\\ufffd\"");
    EXPECT_EQ(json_quote("\xc3"), "\"\\ufffd\"");                        // truncated sequence
    EXPECT_EQ(json_quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong '/'
    EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
}

TEST(CliJsonWriter, NestsObjectsArraysAndScalars) {
    JsonWriter json;
    json.begin_object();
    json.field("schema", "x/1");
    json.field("count", std::uint64_t{18446744073709551615u});
    json.field("negative", std::int64_t{-5});
    json.field("yes", true);
    json.field("ratio", 2.5);
    json.field("nan", std::numeric_limits<double>::quiet_NaN());
    json.field("missing", std::optional<int>());
    json.key("list").begin_array().value(1u).value("two").begin_object().end_object().end_array();
    json.key("empty").begin_array().end_array();
    json.end_object();
    const std::string text = json.str();
    EXPECT_EQ(text.back(), '\n');
    const auto tree = parse(text);
    EXPECT_EQ(tree.get<std::string>("schema"), "x/1");
    EXPECT_EQ(tree.get<std::uint64_t>("count"), 18446744073709551615u);
    EXPECT_EQ(tree.get<int>("negative"), -5);
    EXPECT_TRUE(tree.get<bool>("yes"));
    EXPECT_DOUBLE_EQ(tree.get<double>("ratio"), 2.5);
    EXPECT_EQ(tree.get<std::string>("nan"), "null");
    EXPECT_EQ(tree.get<std::string>("missing"), "null");
    EXPECT_EQ(tree.get_child("list").size(), 3u);
    EXPECT_EQ(tree.get_child("empty").size(), 0u);
    EXPECT_NE(text.find("\"empty\": []"), std::string::npos) << text;
}

// A segment view with committed frames `first..last`, one every `period_ns`,
// the last one published at `last_ns`.
SegmentView ring(std::uint64_t first, std::uint64_t last, std::int64_t period_ns,
                 std::int64_t last_ns) {
    SegmentView v;
    for (std::uint64_t seq = first; seq <= last; ++seq) {
        SlotView s;
        s.index = static_cast<std::uint32_t>(v.slots.size());
        s.sequence = seq;
        s.publish_ns = last_ns - static_cast<std::int64_t>(last - seq) * period_ns;
        v.slots.push_back(s);
    }
    v.latest_sequence = last;
    return v;
}

constexpr std::int64_t kNow = 100'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

TEST(CliFps, ExactWhenTheRingReachesBackASecond) {
    // 4 fps: 8 frames over 1.75 s; 4 of them in the last second.
    EXPECT_DOUBLE_EQ(ring_fps(ring(11, 18, 250 * kMs, kNow - 10 * kMs), kNow).value_or(-1.0), 4.0);
}

TEST(CliFps, ExactWhenTheRingHoldsTheWholeStream) {
    // 3 frames at once, just now: 3 in the last second.
    EXPECT_DOUBLE_EQ(ring_fps(ring(1, 3, 0, kNow - kMs), kNow).value_or(-1.0), 3.0);
}

TEST(CliFps, ExtrapolatedWhenTheRingIsShorterThanASecond) {
    // 100 fps, 4 slots: frames 97..100, the newest published 10 ms ago.
    const double fps = ring_fps(ring(97, 100, 10 * kMs, kNow - 10 * kMs), kNow).value_or(-1.0);
    EXPECT_NEAR(fps, 100.0, 1e-9);  // 3 frame intervals in 30 ms
}

TEST(CliFps, AnOldFrameHeldByAReaderDoesNotCountAsRecent) {
    // 100 fps; slot 0 still holds frame 50 from 2 s ago (a stuck reader's
    // lease), the others frames 90..98. Frames 51..89 are overwritten.
    SegmentView v = ring(90, 98, 10 * kMs, kNow - 10 * kMs);
    SlotView held;
    held.index = static_cast<std::uint32_t>(v.slots.size());
    held.sequence = 50;
    held.publish_ns = kNow - 2000 * kMs;
    held.holders = 1;
    v.slots.push_back(held);
    const double fps = ring_fps(v, kNow).value_or(-1.0);
    EXPECT_NEAR(fps, 100.0, 1e-9);  // frames 90..98: 8 intervals in 80 ms
}

TEST(CliFps, ZeroWhenNothingWasPublishedForASecond) {
    EXPECT_DOUBLE_EQ(ring_fps(ring(50, 53, 10 * kMs, kNow - 2000 * kMs), kNow).value_or(-1.0), 0.0);
}

TEST(CliFps, UnknownWithoutFrames) {
    EXPECT_FALSE(ring_fps(SegmentView{}, kNow));
}

TEST(CliFps, SampledOnlyBetweenSnapshotsOfOneSegment) {
    SegmentView a;
    a.created_realtime_ns = 1;
    a.frames_published = 10;
    SegmentView b = a;
    b.frames_published = 40;
    EXPECT_DOUBLE_EQ(sampled_fps(a, 0, b, 1'000'000'000).value_or(-1.0), 30.0);
    SegmentView replaced = b;
    replaced.created_realtime_ns = 2;
    EXPECT_FALSE(sampled_fps(a, 0, replaced, 1'000'000'000));
}

TEST(CliText, TerminalOutputEscapesControlBytes) {
    EXPECT_EQ(printable("ok\x1b[2Jx\xff"), "ok\\x1b[2Jx\\xff");
    EXPECT_EQ(holder_list(0), "-");
    EXPECT_EQ(holder_list(0b1001), "0,3");
    EXPECT_EQ(mode_text(0100600), "0600");
    EXPECT_EQ(utc_time_text(1'700'000'000'123'000'000), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace framebus::cli
