// GStreamer for the tests: the plugin from the build tree and a registry of
// the tests' own (built fresh by the gst_registry fixture on every ctest
// run), so a stale cache never hides the plugin.
#pragma once

#include <gst/gst.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace framebus::test {

inline std::vector<std::string> gst_environment() {
    return {std::string("GST_PLUGIN_PATH=") + FRAMEBUS_GST_PLUGIN_DIR,
            std::string("GST_REGISTRY=") + FRAMEBUS_GST_REGISTRY};
}

inline void init_gstreamer() {
    if (gst_is_initialized()) return;
    setenv("GST_PLUGIN_PATH", FRAMEBUS_GST_PLUGIN_DIR, 1);
    setenv("GST_REGISTRY", FRAMEBUS_GST_REGISTRY, 1);
    gst_init(nullptr, nullptr);
}

}  // namespace framebus::test
