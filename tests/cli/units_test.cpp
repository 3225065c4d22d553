// The CLI's pieces that need no process: the JSON documents (every string
// they carry must parse back, whatever bytes a corrupt segment holds) and
// the fps arithmetic.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "segment_facts.hpp"
#include "segment_json.hpp"

namespace framebus::cli {
namespace {

using nlohmann::json;

// A segment ls could not read, with `message` as the library's reason.
ListedSegment broken(const std::string& name, const std::string& message) {
    ListedSegment entry;
    entry.name = name;
    entry.error = Error{Errc::corrupt, message};
    return entry;
}

TEST(SegmentJson, ControlCharactersAreEscapedAndParseBack) {
    const std::string nasty = std::string("quote \" backslash \\ newline \n tab \t bell \a nul ") +
                              '\0' + " esc \x1b[2J end";
    const std::string text = to_text(ls_document({broken("x", nasty)}));
    EXPECT_EQ(json::parse(text).at("segments").at(0).at("error").get<std::string>(), nasty) << text;
    EXPECT_NE(text.find("\\u0000"), std::string::npos) << text;
    EXPECT_NE(text.find("\\u0007"), std::string::npos) << text;
    EXPECT_NE(text.find("\\u001b"), std::string::npos) << text;
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << "a raw escape byte reached the output";
}

TEST(SegmentJson, InvalidUtf8BecomesReplacementCharacters) {
    const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
    for (const std::string bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80"}) {
        const std::string text = to_text(ls_document({broken("x", "ok \xc3\xa9 " + bad + " end")}));
        const std::string error =
            json::parse(text).at("segments").at(0).at("error").get<std::string>();
        // Valid UTF-8 is kept; the bad bytes become one or more U+FFFD, nothing else.
        const std::string prefix = "ok \xc3\xa9 ", suffix = " end";
        ASSERT_EQ(error.rfind(prefix, 0), 0u) << error;
        ASSERT_GE(error.size(), prefix.size() + suffix.size() + replacement.size()) << error;
        EXPECT_EQ(error.substr(error.size() - suffix.size()), suffix) << error;
        std::string middle =
            error.substr(prefix.size(), error.size() - prefix.size() - suffix.size());
        while (middle.rfind(replacement, 0) == 0) middle.erase(0, replacement.size());
        EXPECT_EQ(middle, "") << "not replaced: " << error;
    }
}

TEST(SegmentJson, EveryLsFieldIsPresentForABrokenSegment) {
    const json doc = json::parse(to_text(ls_document({broken("x", "why")}, 0.5)));
    EXPECT_EQ(doc.at("schema"), "framebus.ls/2");
    EXPECT_EQ(doc.at("fps_source"), "sample");
    EXPECT_DOUBLE_EQ(doc.at("sample_seconds").get<double>(), 0.5);
    const json& s = doc.at("segments").at(0);
    EXPECT_EQ(s.at("state"), "corrupt");
    EXPECT_EQ(s.at("error"), "why");
    for (const char* key : {"width", "pixel_format", "fps", "writer_pid", "created_realtime_ns"})
        EXPECT_TRUE(s.at(key).is_null()) << key;
    EXPECT_EQ(s.size(), 25u);  // name, path, state, error and 21 facts
}

TEST(SegmentJson, InfoDocumentKeepsExactIntegersAndOrder) {
    SegmentView v;
    v.name = "seg";
    v.created_realtime_ns = 1'700'000'000'123'000'000;
    v.latest_sequence = 0;
    SlotView slot;
    slot.index = 0;
    slot.holders = 0b101;
    slot.sequence = 18446744073709551615u;
    slot.publish_ns = 5;
    slot.format = FrameFormat::packed(4, 2, PixelFormat::gray8);
    v.slots.push_back(slot);
    const std::string text = to_text(info_document(v, 10));
    EXPECT_EQ(text.back(), '\n');
    EXPECT_EQ(nlohmann::ordered_json::parse(text).begin().key(), "schema");  // documented order
    const json doc = json::parse(text);
    EXPECT_EQ(doc.at("schema"), "framebus.info/2");
    EXPECT_EQ(doc.at("created"), "2023-11-14T22:13:20.123Z");
    EXPECT_TRUE(doc.at("latest_slot").is_null());
    const json& s = doc.at("slots").at(0);
    EXPECT_EQ(s.at("sequence").get<std::uint64_t>(), 18446744073709551615u);
    EXPECT_EQ(s.at("age_ns").get<std::int64_t>(), 5);
    EXPECT_EQ(s.at("holders"), json::array({0, 2}));
    EXPECT_TRUE(doc.at("readers").is_array());
    EXPECT_NE(text.find("\"readers\": []"), std::string::npos) << text;
}

TEST(SegmentJson, AnotherLayoutVersionIsIncompatibleNotCorrupt) {
    ListedSegment entry;
    entry.name = "old";
    entry.error = Error{Errc::version_mismatch, "made by an older framebus; restart its writer"};
    const json s = json::parse(to_text(ls_document({entry}))).at("segments").at(0);
    EXPECT_EQ(s.at("state"), "incompatible");
    EXPECT_EQ(s.at("error"), "made by an older framebus; restart its writer");
}

TEST(SegmentJson, PlanarFramesListEveryPlaneWithItsFormatName) {
    SegmentView v;
    v.name = "yuv";
    v.leases_per_reader = 3;
    for (const PixelFormat format : {PixelFormat::i420, PixelFormat::nv12, PixelFormat::yuyv}) {
        SlotView slot;
        slot.index = static_cast<std::uint32_t>(v.slots.size());
        slot.sequence = slot.index + 1;
        slot.format = FrameFormat::packed(8, 4, format);
        v.slots.push_back(slot);
    }
    v.latest_sequence = 3;
    const json doc = json::parse(to_text(info_document(v, 0)));
    EXPECT_EQ(doc.at("leases_per_reader"), 3);
    const json& slots = doc.at("slots");
    // I420 8x4: Y 8x4, then U and V 4x2 each, back to back.
    EXPECT_EQ(slots.at(0).at("pixel_format"), "i420");
    EXPECT_EQ(slots.at(0).at("planes"),
              json::parse(R"([{"offset": 0, "stride": 8}, {"offset": 32, "stride": 4},
                              {"offset": 40, "stride": 4}])"));
    // NV12: Y, then interleaved UV rows of 8 bytes.
    EXPECT_EQ(slots.at(1).at("pixel_format"), "nv12");
    EXPECT_EQ(slots.at(1).at("planes"),
              json::parse(R"([{"offset": 0, "stride": 8}, {"offset": 32, "stride": 8}])"));
    // YUYV: one plane of 2 bytes per pixel.
    EXPECT_EQ(slots.at(2).at("pixel_format"), "yuyv");
    EXPECT_EQ(slots.at(2).at("planes"), json::parse(R"([{"offset": 0, "stride": 16}])"));
    EXPECT_EQ(slots.at(2).at("stride"), 16);

    ListedSegment entry;
    entry.name = "yuv";
    entry.view = v;
    const json s = json::parse(to_text(ls_document({entry}))).at("segments").at(0);
    EXPECT_EQ(s.at("pixel_format"), "yuyv");  // the newest frame's
    EXPECT_EQ(s.at("planes").size(), 1u);
    EXPECT_EQ(s.at("leases_per_reader"), 3);
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

TEST(CliText, HoldersModesAndTimes) {
    EXPECT_EQ(holder_list(0), "-");
    EXPECT_EQ(holder_list(0b1001), "0,3");
    EXPECT_EQ(mode_text(0100600), "0600");
    EXPECT_EQ(utc_time_text(1'700'000'000'123'000'000), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace framebus::cli
