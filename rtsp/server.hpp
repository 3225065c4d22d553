// The RTSP server: one shared media factory per segment, made when a client
// first asks for rtsp://HOST:PORT/NAME and the segment exists.
#pragma once

#include <gst/rtsp-server/rtsp-server.h>

#include "options.hpp"

namespace framebus::rtsp {

// A server (not attached yet) whose mount points know every live segment.
[[nodiscard]] GstRTSPServer* make_server(const Options& options);

}  // namespace framebus::rtsp
