// What the command line asks framebus-writer to do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "framebus/frame.hpp"

namespace framebus::writer {

// What SOURCE is; `automatic` guesses from its spelling (source_kind.hpp).
enum class SourceType { automatic, pattern, file, sequence, camera, url, pipeline };

// Who decodes files and URLs: libav straight into the slot (the default,
// falling back to OpenCV where libav cannot open the source), or OpenCV.
enum class Decoder { automatic, libav, opencv };
enum class Hwaccel { none, vaapi, automatic };
enum class ThreadType { automatic, slice, frame };  // automatic: frame+slice for files

struct Size {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
};

struct Options {
    std::string source;  // empty: the built-in test pattern
    SourceType source_type = SourceType::automatic;
    std::string name = "framebus";
    std::uint32_t slots = 0;  // 0: max_readers * leases_per_reader + 2, never drops
    std::uint32_t max_readers = 8;
    std::uint32_t leases_per_reader = 2;
    std::optional<double> fps;  // unset: the source's own rate; 0: as fast as it gives
    bool loop = false;
    std::optional<Size> resize;
    std::optional<PixelFormat> format;  // unset (--format native): as the source decodes
    std::uint64_t max_frames = 0;       // 0: no limit
    bool keep = false;
    bool reuse_newest = false;  // WriterOptions::reuse_newest
    std::uint32_t mode = 0600;
    bool quiet = false;
    std::optional<Size> camera_size;
    std::optional<double> camera_fps;
    std::optional<bool> reconnect;   // unset: on for cameras and URLs
    std::uint32_t wait_readers = 0;  // hold the first frame until this many readers attach
    Decoder decoder = Decoder::automatic;
    Hwaccel hwaccel = Hwaccel::none;
    int decoder_threads = 0;  // libav: 0 = one per core
    ThreadType thread_type = ThreadType::automatic;
    bool on_demand = false;  // close a live source while no reader is attached
    double idle_after = 5;   // seconds without readers before it is closed
};

// Either the options to run with, or the exit code to leave with at once
// (--help and --version: 0 after printing; a bad option: 2 after one line on stderr).
using ParsedCommandLine = std::variant<Options, int>;

[[nodiscard]] ParsedCommandLine parse_command_line(int argc, char** argv);

// "640x480" -> {640, 480}; nullopt for anything else (zero sides included).
[[nodiscard]] std::optional<Size> parse_size(const std::string& text);
// "0600", "600", "0644" -> permission bits; nullopt for anything else.
[[nodiscard]] std::optional<std::uint32_t> parse_mode(const std::string& text);

}  // namespace framebus::writer
