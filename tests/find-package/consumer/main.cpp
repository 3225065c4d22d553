// The README's library example, built against the installed package by
// tests/find-package/run.sh: publish one frame, lease it, check it.
#include <framebus/reader.hpp>
#include <framebus/writer.hpp>

#include <cstdio>
#include <cstring>

int main() {
    using namespace framebus;
    const FrameFormat format = FrameFormat::packed(640, 480, PixelFormat::bgr24);

    WriterOptions options;
    options.name = "consumer-example";
    options.initial_format = format;  // sizes the slots
    auto writer = Writer::create(options);
    if (!writer) return std::fprintf(stderr, "%s\n", writer.error().message.c_str()), 2;

    auto reader = Reader::open("consumer-example");
    if (!reader) return std::fprintf(stderr, "%s\n", reader.error().message.c_str()), 2;

    if (auto slot = writer->acquire(format)) {            // a free slot, never waits
        std::memset(slot->data(), 0x80, format.bytes());  // decode/draw in place
        slot->commit();                                   // publish; wakes waiters
    }

    if (reader->wait(std::chrono::seconds(1)) == WaitStatus::frame) {
        auto lease = reader->latest();                       // RAII: released at scope end
        if (lease && lease->data()[0] == std::byte{0x80}) {  // read-only, in place
            std::printf("frame %llu: %ux%u\n", static_cast<unsigned long long>(lease->sequence()),
                        lease->format().width, lease->format().height);
            return 0;
        }
    }
    return 1;
}
