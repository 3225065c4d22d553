// Libraries (libpng, GStreamer's g_log) print their own complaints on
// stderr; while a source is probed or opened, the one error line must be the
// program's. RAII: fd 2 is restored when the object goes.
#pragma once

#include <fcntl.h>
#include <unistd.h>

namespace framebus::writer {

class StderrSilenced {
  public:
    StderrSilenced() : saved_(::dup(STDERR_FILENO)) {
        const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (saved_ >= 0 && null >= 0) ::dup2(null, STDERR_FILENO);
        if (null >= 0) ::close(null);
    }
    ~StderrSilenced() {
        if (saved_ < 0) return;
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
    }
    StderrSilenced(const StderrSilenced&) = delete;
    StderrSilenced& operator=(const StderrSilenced&) = delete;

  private:
    int saved_;
};

}  // namespace framebus::writer
