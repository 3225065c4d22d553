// SIGINT/SIGTERM ask the writer to stop: the handler only sets a flag that the
// publish loop checks between frames (and sleeps check while they wait).
#pragma once

namespace framebus::writer {

// Installs the handlers (without SA_RESTART, so a blocking call returns early).
void install_stop_handlers();
[[nodiscard]] bool stop_requested();
[[nodiscard]] int stop_signal();  // the signal that asked; 0 if none

}  // namespace framebus::writer
