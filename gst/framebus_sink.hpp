// framebussink: publishes every buffer into a framebus segment.
#pragma once

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_FRAMEBUS_SINK (gst_framebus_sink_get_type())
G_DECLARE_FINAL_TYPE(GstFramebusSink, gst_framebus_sink, GST, FRAMEBUS_SINK, GstBaseSink)

G_END_DECLS
