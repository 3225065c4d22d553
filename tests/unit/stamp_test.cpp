#include <gtest/gtest.h>

#include <vector>

#include "framebus/stamp.hpp"

namespace framebus {
namespace {

TEST(Stamp, ChecksOutOnTheFrameItWasWrittenTo) {
    const FrameFormat format = FrameFormat::packed(64, 48, PixelFormat::bgr24);
    std::vector<std::byte> frame(format.bytes(), std::byte{7});
    ASSERT_TRUE(stamp_frame(frame.data(), format, 42));
    const StampResult result = check_stamp(frame.data(), format);
    EXPECT_EQ(result.check, StampCheck::ok);
    EXPECT_EQ(result.number, 42u);
}

TEST(Stamp, AnyChangedByteIsCaught) {
    const FrameFormat format = FrameFormat::packed(32, 16, PixelFormat::gray8);
    std::vector<std::byte> frame(format.bytes());
    for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<std::byte>(i * 7);
    ASSERT_TRUE(stamp_frame(frame.data(), format, 9));
    for (std::size_t i = kStampBytes; i < frame.size(); i += 37) {
        auto copy = frame;
        copy[i] ^= std::byte{1};
        EXPECT_EQ(check_stamp(copy.data(), format).check, StampCheck::bad_checksum) << "byte " << i;
    }
}

TEST(Stamp, RowPaddingIsNotPartOfTheFrame) {
    FrameFormat format = FrameFormat::packed(10, 4, PixelFormat::bgr24);
    format.planes[0].stride = 64;  // 30 bytes of pixels, 34 of padding per row
    std::vector<std::byte> frame(format.bytes());
    ASSERT_TRUE(stamp_frame(frame.data(), format, 1));
    frame[64 + 40] = std::byte{0xff};  // padding of row 1
    EXPECT_EQ(check_stamp(frame.data(), format).check, StampCheck::ok);
    frame[64 + 10] = std::byte{0xff};  // a pixel of row 1
    EXPECT_EQ(check_stamp(frame.data(), format).check, StampCheck::bad_checksum);
}

TEST(Stamp, AbsentOrTooNarrowIsNoStamp) {
    const FrameFormat format = FrameFormat::packed(64, 4, PixelFormat::gray8);
    std::vector<std::byte> frame(format.bytes());
    EXPECT_EQ(check_stamp(frame.data(), format).check, StampCheck::no_stamp);
    const FrameFormat narrow = FrameFormat::packed(4, 4, PixelFormat::gray8);
    EXPECT_FALSE(stamp_frame(frame.data(), narrow, 1));
}

}  // namespace
}  // namespace framebus
