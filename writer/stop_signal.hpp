// SIGINT/SIGTERM ask the writer to stop: the handler (framebus::app, shared
// by the programs) only sets a flag that the publish loop checks between
// frames (and sleeps check while they wait).
#pragma once

#include "framebus/app/program.hpp"

namespace framebus::writer {

using app::install_stop_handlers;
using app::stop_requested;
using app::stop_signal;

}  // namespace framebus::writer
