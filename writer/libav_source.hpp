// FrameSource over libavformat/libavcodec (FFmpeg's libraries, as
// doc/examples/demux_decode.c uses them): files and stream URLs decoded
// straight into the slot. A frame in a format the bus has (I420, NV12, YUYV,
// gray, packed RGB) is copied plane by plane into the slot's planes, with no
// colour conversion; any other format, size or --format goes through
// sws_scale with the slot's planes as its destination. Either way one pass
// from the decoder's frame into shared memory.
#pragma once

#include <memory>

#include "frame_source.hpp"

namespace framebus::writer {

// Opens SOURCE (a file or URL) with libav. Errors are input errors and name
// the source; `hwaccel_note` receives one line about hardware decoding when
// it was asked for and is not available (decoding goes on in software).
[[nodiscard]] Result<std::unique_ptr<FrameSource>> open_libav_source(const Options& options,
                                                                     SourceType type,
                                                                     std::string& hwaccel_note);

}  // namespace framebus::writer
