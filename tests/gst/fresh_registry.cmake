# Removes the tests' GStreamer registry and builds it again with the plugin
# from the build tree; fails if the plugin does not load.
file(REMOVE ${REGISTRY})
set(ENV{GST_REGISTRY} ${REGISTRY})
set(ENV{GST_PLUGIN_PATH} ${PLUGIN_DIR})
execute_process(COMMAND ${INSPECT} framebus RESULT_VARIABLE result OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT result EQUAL 0 OR NOT out MATCHES "framebussrc" OR NOT out MATCHES "framebussink")
  message(FATAL_ERROR "gst-inspect-1.0 framebus failed (${result}):\n${out}\n${err}")
endif()
