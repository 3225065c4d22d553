// framebussrc: a live source that leases frames from a framebus segment.
#pragma once

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_FRAMEBUS_SRC (gst_framebus_src_get_type())
G_DECLARE_FINAL_TYPE(GstFramebusSrc, gst_framebus_src, GST, FRAMEBUS_SRC, GstPushSrc)

G_END_DECLS
