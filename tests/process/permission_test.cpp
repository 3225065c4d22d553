// DESIGN.md guarantee 7: readers cannot damage frames (the MMU says so).
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "framebus/reader.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;

TEST(Permissions, AReadersFrameMappingIsReadOnly) {
    const std::string name = test::unique_name("readonly");
    const FrameFormat format = FrameFormat::packed(64, 64, PixelFormat::bgr24);
    test::Pipe mapped;
    test::Child reader_process([&] {
        auto reader = Reader::open(name, ReaderOptions{10s});
        if (!reader || reader->wait(10s) != WaitStatus::frame) return 10;
        auto lease = reader->latest();
        if (!lease) return 11;
        // The frame's page must be mapped without write permission ("r--s").
        const auto address = reinterpret_cast<std::uintptr_t>(lease->data());
        std::ifstream maps("/proc/self/maps");
        std::string line;
        bool read_only = false;
        while (std::getline(maps, line)) {
            std::uintptr_t lo = 0, hi = 0;
            char perms[5] = {};
            if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 && address >= lo &&
                address < hi)
                read_only = std::string(perms) == "r--s";
        }
        mapped.send(read_only ? 1 : 0);
        ::signal(SIGSEGV, SIG_DFL);  // no sanitizer handler: die of the fault itself
        const_cast<std::byte*>(lease->data())[0] = std::byte{0x42};
        return 12;  // reached only if the write went through
    });
    WriterOptions options;
    options.name = name;
    options.initial_format = format;
    auto writer = Writer::create(options);
    ASSERT_TRUE(writer);
    auto slot = writer->acquire(format);
    test::fill_frame(slot->data(), format.bytes(), 1);
    slot->commit();
    EXPECT_EQ(mapped.receive(10s), 1u) << "frame data is not mapped r--s in the reader";
    EXPECT_EQ(reader_process.wait_exit_code(10s), -SIGSEGV);
    // And the frame is intact.
    auto reader = Reader::open(name);
    ASSERT_TRUE(reader);
    auto lease = reader->latest();
    EXPECT_EQ(test::check_frame(lease->data(), format.bytes(), 1), 0u);
}

}  // namespace
}  // namespace framebus
