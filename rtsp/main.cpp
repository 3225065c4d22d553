// framebus-rtsp: serves framebus segments to other machines over RTSP.
#include <fmt/core.h>
#include <glib-unix.h>
#include <gst/gst.h>

#include <csignal>
#include <variant>

#include "elements.hpp"
#include "options.hpp"
#include "server.hpp"

namespace {

gboolean quit(gpointer loop) {
    g_main_loop_quit(static_cast<GMainLoop*>(loop));
    return G_SOURCE_REMOVE;
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = framebus::rtsp::parse_command_line(argc, argv);
    if (const int* code = std::get_if<int>(&parsed)) return *code;
    const auto& options = std::get<framebus::rtsp::Options>(parsed);

    gst_init(nullptr, nullptr);
    if (!framebus::gst::register_static_plugin()) {
        fmt::print(stderr, "framebus-rtsp: error: could not register the framebus elements\n");
        return 1;
    }
    const char* encoder = options.codec == framebus::rtsp::Codec::h264   ? "x264enc"
                          : options.codec == framebus::rtsp::Codec::jpeg ? "jpegenc"
                                                                         : "rtpvrawpay";
    if (GstElementFactory* factory = gst_element_factory_find(encoder)) {
        gst_object_unref(factory);
    } else {
        fmt::print(stderr, "framebus-rtsp: error: GStreamer element {} is not installed\n",
                   encoder);
        return 2;
    }

    GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
    GstRTSPServer* server = framebus::rtsp::make_server(options);
    if (gst_rtsp_server_attach(server, nullptr) == 0) {
        fmt::print(stderr, "framebus-rtsp: error: cannot listen on {}:{}\n", options.host,
                   options.port);
        g_object_unref(server);
        g_main_loop_unref(loop);
        return 2;
    }
    // The actual port (for --listen HOST:0), on stdout: scripts read it.
    fmt::print("framebus-rtsp: listening on rtsp://{}:{}/NAME\n", options.host,
               gst_rtsp_server_get_bound_port(server));
    std::fflush(stdout);
    g_unix_signal_add(SIGINT, quit, loop);
    g_unix_signal_add(SIGTERM, quit, loop);
    g_main_loop_run(loop);
    g_object_unref(server);
    g_main_loop_unref(loop);
    return 0;
}
