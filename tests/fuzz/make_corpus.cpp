// Recreates the fuzzer's seed corpus: control regions of real segments made
// with framebus::Writer in several shapes, then truncated and mutated copies.
// Usage: make_corpus OUTPUT_DIR (scripts/fuzz.sh --make-corpus runs it).
//
// Each seed is the encoding segment_fuzz.cpp reads: 8 bytes of object size
// (little-endian; 0 = "as the header says") followed by the object's first bytes.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "framebus/inspect.hpp"
#include "framebus/layout.hpp"
#include "framebus/reader.hpp"
#include "framebus/stamp.hpp"
#include "framebus/writer.hpp"

namespace {

using namespace framebus;
using layout::SegmentHeader;
using layout::SlotHeader;

struct Seed {
    std::uint64_t object_size = 0;
    std::vector<std::byte> bytes;

    template <class T>
    void put(std::size_t offset, T value) {
        if (offset + sizeof(T) <= bytes.size())
            std::memcpy(bytes.data() + offset, &value, sizeof(T));
    }
};

// Removes the segment when the shape is done, whatever happens.
struct SegmentGuard {
    std::string name;
    ~SegmentGuard() { ::shm_unlink(name.c_str()); }
};

// The object's control region as it is now (pread: what inspect() sees).
Seed snapshot(const std::string& name) {
    Seed seed;
    const int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
    if (fd < 0) return seed;
    seed.object_size = static_cast<std::uint64_t>(::lseek(fd, 0, SEEK_END));
    std::uint64_t data_offset = 0;
    if (::pread(fd, &data_offset, 8, offsetof(SegmentHeader, data_offset)) == 8 &&
        data_offset <= seed.object_size) {
        seed.bytes.resize(data_offset);
        if (::pread(fd, seed.bytes.data(), data_offset, 0) != static_cast<ssize_t>(data_offset))
            seed.bytes.clear();
    }
    ::close(fd);
    return seed;
}

class CorpusWriter {
  public:
    explicit CorpusWriter(std::filesystem::path dir) : dir_(std::move(dir)) {
        std::filesystem::create_directories(dir_);
    }
    void write(const std::string& file, const Seed& seed) {
        std::ofstream out(dir_ / file, std::ios::binary | std::ios::trunc);
        const std::uint64_t size = seed.object_size;  // little-endian hosts only (x86, arm64)
        out.write(reinterpret_cast<const char*>(&size), sizeof size);
        out.write(reinterpret_cast<const char*>(seed.bytes.data()),
                  static_cast<std::streamsize>(seed.bytes.size()));
        ++count_;
    }
    int count() const { return count_; }

  private:
    std::filesystem::path dir_;
    int count_ = 0;
};

// Publishes `frames` stamped test frames.
bool publish(Writer& writer, const FrameFormat& format, int frames) {
    for (int n = 0; n < frames; ++n) {
        auto slot = writer.acquire(format);
        if (!slot) return false;
        std::memset(slot->data(), n, slot->format().bytes());
        (void)stamp_frame(slot->data(), slot->format(), slot->sequence());
        slot->commit();
    }
    return true;
}

struct Shape {
    std::string file;
    WriterOptions options;
    FrameFormat format;
    // Brings the live segment into the state to snapshot, then snapshots it.
    std::function<Seed(Writer&, const Shape&)> make;
};

Seed after_frames(Writer& writer, const Shape& shape, int frames) {
    publish(writer, shape.format, frames);
    return snapshot(shape.options.name);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    CorpusWriter corpus(argv[1]);
    const std::string base = "fbfuzz-corpus-" + std::to_string(::getpid());
    auto options = [&](std::uint32_t readers, std::uint32_t slots) {
        WriterOptions o;
        o.name = base;
        o.max_readers = readers;
        o.slots = slots;
        return o;
    };
    const FrameFormat vga = FrameFormat::packed(640, 480, PixelFormat::bgr24);
    const FrameFormat small_gray = FrameFormat::packed(32, 32, PixelFormat::gray8);
    FrameFormat padded = FrameFormat::packed(30, 20, PixelFormat::rgb24);
    padded.planes[0].stride = 128;  // rows padded past width * 3
    const FrameFormat i420 = FrameFormat::packed(64, 32, PixelFormat::i420);
    const FrameFormat nv12 = FrameFormat::packed(64, 32, PixelFormat::nv12);
    const FrameFormat yuyv = FrameFormat::packed(64, 32, PixelFormat::yuyv);
    // I420 with each plane's rows padded and the planes apart (a decoder's layout).
    FrameFormat i420_apart = i420;
    i420_apart.planes[0] = Plane{0, 128};
    i420_apart.planes[1] = Plane{128 * 32 + 64, 64};
    i420_apart.planes[2] = Plane{128 * 32 + 64 + 64 * 16 + 64, 64};

    std::vector<Shape> shapes = {
        {"valid-empty", options(8, 0), vga,
         [](Writer&, const Shape& s) { return snapshot(s.options.name); }},
        {"valid-frames", options(8, 0), vga,
         [](Writer& w, const Shape& s) { return after_frames(w, s, 3); }},
        {"valid-wrapped", options(2, 4), small_gray,
         [](Writer& w, const Shape& s) { return after_frames(w, s, 11); }},
        {"valid-one-slot", options(1, 1), small_gray,
         [](Writer& w, const Shape& s) { return after_frames(w, s, 1); }},
        {"valid-padded-rows", options(4, 0), padded,
         [](Writer& w, const Shape& s) { return after_frames(w, s, 2); }},
        {"valid-mid-write", options(4, 0), small_gray,
         [](Writer& w, const Shape& s) {
             publish(w, s.format, 2);
             auto slot = w.acquire(s.format);  // WRITING while we snapshot
             return snapshot(s.options.name);
         }},
        {"valid-rewriting-newest", options(2, 0), small_gray,
         [](Writer& w, const Shape& s) {
             // reuse_newest (set below): the only reader has the newest
             // frame, so the writer takes its slot and `latest` names none.
             auto reader = Reader::open(s.options.name);
             if (!reader) return Seed{};
             publish(w, s.format, 2);
             if (auto lease = reader->latest(); !lease) return Seed{};
             auto slot = w.acquire(s.format);
             return snapshot(s.options.name);
         }},
        {"valid-leases", options(8, 0), small_gray,
         [](Writer& w, const Shape& s) {
             publish(w, s.format, 3);
             auto first = Reader::open(s.options.name);
             auto second = Reader::open(s.options.name);
             if (!first || !second) return Seed{};
             auto lease = first->latest();
             publish(w, s.format, 1);
             auto other = second->latest();
             return snapshot(s.options.name);
         }},
        {"valid-i420", options(2, 0), i420,
         [](Writer& w, const Shape& s) { return after_frames(w, s, 3); }},
        {"valid-nv12", options(2, 0), nv12,
         [](Writer& w, const Shape& s) { return after_frames(w, s, 3); }},
        {"valid-yuyv", options(2, 0), yuyv,
         [](Writer& w, const Shape& s) { return after_frames(w, s, 3); }},
        {"valid-i420-planes-apart", options(2, 0), i420_apart,
         [](Writer& w, const Shape& s) { return after_frames(w, s, 2); }},
        {"valid-end-of-stream", options(8, 0), small_gray,
         [](Writer& w, const Shape& s) {
             publish(w, s.format, 5);
             w.end_of_stream();
             return snapshot(s.options.name);
         }},
        {"valid-max-readers-max-slots", options(layout::kMaxReaders, layout::kMaxSlots), small_gray,
         [](Writer& w, const Shape& s) {
             publish(w, s.format, 300);
             auto reader = Reader::open(s.options.name);
             auto lease = reader ? reader->latest() : Result<Lease>(Error{Errc::no_frame, ""});
             return snapshot(s.options.name);
         }},
    };

    Seed reference;  // valid-frames, the base of the mutations
    Seed small;      // valid-wrapped: small slots
    Seed planar;     // valid-i420: three planes
    for (Shape& shape : shapes) {
        ::shm_unlink(base.c_str());
        SegmentGuard guard{base};
        shape.options.initial_format = shape.format;
        shape.options.reuse_newest = shape.file == "valid-rewriting-newest";
        auto writer = Writer::create(shape.options);
        if (!writer) {
            std::fprintf(stderr, "make_corpus: error: %s\n", writer.error().message.c_str());
            return 1;
        }
        Seed seed = shape.make(*writer, shape);
        if (seed.bytes.empty() || !parse_segment(seed.bytes, seed.object_size)) {
            std::fprintf(stderr, "make_corpus: error: shape %s did not give a valid segment\n",
                         shape.file.c_str());
            return 1;
        }
        corpus.write(shape.file, seed);
        if (shape.file == "valid-frames") reference = seed;
        if (shape.file == "valid-wrapped") small = seed;
        if (shape.file == "valid-i420") planar = seed;
    }

    // "As the header says" (object size 0), the form mutations of counts keep.
    Seed consistent = reference;
    consistent.object_size = 0;
    corpus.write("valid-size-from-header", consistent);

    // Truncated: fewer bytes than the header and control region need, or an
    // object smaller than the header claims.
    for (std::size_t n : {0, 7, 8, 64, 319, 320, 1000}) {
        Seed t = reference;
        t.bytes.resize(n);
        corpus.write("truncated-" + std::to_string(n), t);
    }
    {
        Seed t = reference;
        t.object_size = reference.object_size - 4096;
        corpus.write("truncated-object", t);
    }

    // Mutated: one field wrong each, at the checks the parser makes.
    const std::size_t slot0 = layout::slots_offset();
    auto mutated = [&](const std::string& file, auto&& change) {
        Seed m = consistent;
        change(m);
        corpus.write("mutated-" + file, m);
    };
    mutated("magic", [](Seed& m) { m.put<std::uint64_t>(0, layout::kMagic ^ 1); });
    mutated("version-0", [](Seed& m) { m.put<std::uint32_t>(8, 0); });
    mutated("version-older", [](Seed& m) { m.put<std::uint32_t>(8, layout::kLayoutVersion - 1); });
    mutated("version-newer", [](Seed& m) { m.put<std::uint32_t>(8, layout::kLayoutVersion + 1); });
    mutated("leases-per-reader-0",
            [](Seed& m) { m.put<std::uint32_t>(offsetof(SegmentHeader, leases_per_reader), 0); });
    mutated("header-size", [](Seed& m) { m.put<std::uint32_t>(12, 256); });
    mutated("slot-count",
            [](Seed& m) { m.put<std::uint32_t>(offsetof(SegmentHeader, slot_count), 200); });
    mutated("max-readers-0",
            [](Seed& m) { m.put<std::uint32_t>(offsetof(SegmentHeader, max_readers), 0); });
    mutated("total-size", [](Seed& m) {
        m.put<std::uint64_t>(offsetof(SegmentHeader, total_size), std::uint64_t{1} << 62);
    });
    mutated("name-unterminated", [](Seed& m) {
        for (std::size_t i = 0; i <= layout::kMaxNameLength; ++i)
            m.put<char>(offsetof(SegmentHeader, name) + i, 'x');
    });
    mutated("writer-state",
            [](Seed& m) { m.put<std::uint32_t>(offsetof(SegmentHeader, writer_state), 3); });
    mutated("latest-past-slots", [](Seed& m) {
        m.put<std::uint64_t>(offsetof(SegmentHeader, latest), layout::pack_latest(3, 200));
    });
    mutated("heartbeat-min",
            [](Seed& m) { m.put<std::int64_t>(offsetof(SegmentHeader, heartbeat_ns), INT64_MIN); });
    mutated("holder-past-max-readers", [&](Seed& m) {
        m.put<std::uint64_t>(slot0 + offsetof(SlotHeader, holders), std::uint64_t{1} << 40);
    });
    mutated("frame-past-capacity", [&](Seed& m) {
        m.put<std::uint32_t>(slot0 + offsetof(SlotHeader, height), 100000);
        m.put<std::uint64_t>(slot0 + offsetof(SlotHeader, bytes), 100000ULL * 1920);
    });
    // Rows wider than the stride: stride * height still fits the slot, but
    // a row of width * 3 bytes runs past the next rows (and the slot's end).
    {
        Seed m = small;  // 32x32 gray8 in 1 KiB slots: the fuzzer stamp-checks these
        m.put<std::uint32_t>(slot0 + offsetof(SlotHeader, width), 40);
        corpus.write("mutated-width-past-stride", m);
    }
    mutated("stride-0", [&](Seed& m) {
        m.put<std::uint64_t>(
            slot0 + offsetof(SlotHeader, planes) + offsetof(SlotHeader::PlaneLayout, stride), 0);
    });
    // The plane fields of a three-plane frame, each broken once: a plane
    // past the slot, planes overlapping, a wrong plane count, odd sizes.
    auto planar_mutated = [&](const std::string& file, auto&& change) {
        Seed m = planar;
        change(m);
        corpus.write("mutated-" + file, m);
    };
    auto plane_field = [&](std::uint32_t plane, std::size_t field) {
        return slot0 + offsetof(SlotHeader, planes) + plane * sizeof(SlotHeader::PlaneLayout) +
               field;
    };
    planar_mutated("plane-past-slot", [&](Seed& m) {
        m.put<std::uint64_t>(plane_field(2, offsetof(SlotHeader::PlaneLayout, offset)),
                             std::uint64_t{1} << 40);
    });
    planar_mutated("planes-overlap", [&](Seed& m) {
        m.put<std::uint64_t>(plane_field(1, offsetof(SlotHeader::PlaneLayout, offset)), 0);
    });
    planar_mutated("plane-stride-short", [&](Seed& m) {
        m.put<std::uint64_t>(plane_field(1, offsetof(SlotHeader::PlaneLayout, stride)), 1);
    });
    planar_mutated("plane-count-4", [&](Seed& m) {
        m.put<std::uint32_t>(slot0 + offsetof(SlotHeader, plane_count), 4);
    });
    planar_mutated("plane-count-0", [&](Seed& m) {
        m.put<std::uint32_t>(slot0 + offsetof(SlotHeader, plane_count), 0);
    });
    planar_mutated("odd-width",
                   [&](Seed& m) { m.put<std::uint32_t>(slot0 + offsetof(SlotHeader, width), 63); });
    planar_mutated("pixel-format-unknown-number", [&](Seed& m) {
        m.put<std::uint32_t>(slot0 + offsetof(SlotHeader, pixel_format), 77);
    });
    mutated("writing-slot", [&](Seed& m) {
        m.put<std::uint64_t>(slot0 + offsetof(SlotHeader, state), layout::writing_state(1));
    });

    std::printf("make_corpus: wrote %d seeds to %s\n", corpus.count(), argv[1]);
    return 0;
}
