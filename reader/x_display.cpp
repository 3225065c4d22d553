// display_reachable() in a file of its own: Xlib's header defines macros
// (Status, Bool, None) that clash with framebus's and OpenCV's names.
#include <X11/Xlib.h>

#include <string>

namespace framebus::reader {

bool display_reachable(const std::string& display) {
    // Xlib itself answers, for every kind of display (a local socket, TCP such
    // as an ssh-forwarded localhost:10.0, with its authorization), where the
    // GUI backend (Qt's xcb) would abort the program. On failure Xlib prints
    // nothing and returns null.
    Display* opened = ::XOpenDisplay(display.c_str());
    if (opened == nullptr) return false;
    ::XCloseDisplay(opened);
    return true;
}

}  // namespace framebus::reader
