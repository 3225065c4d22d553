#include "programs.hpp"

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace framebus::test {

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fbt-reader-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

namespace {
// Output files of the n-th program of this test process.
std::filesystem::path output_path(const std::filesystem::path& dir, int n, const char* stream) {
    return dir / ("program-" + std::to_string(n) + "." + stream);
}
int g_programs_started = 0;
}  // namespace

Program::Program(const std::filesystem::path& dir, std::vector<std::string> argv,
                 ProgramOptions options)
    : out_path_(output_path(dir, g_programs_started, "out")),
      err_path_(output_path(dir, g_programs_started++, "err")),
      child_([&]() -> int {
          // In the child: redirect, drop privileges if asked, exec.
          const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
          const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
          if (out < 0 || err < 0) return 126;
          ::dup2(out, STDOUT_FILENO);
          ::dup2(err, STDERR_FILENO);
          for (const std::string& entry : options.env) {
              const auto eq = entry.find('=');
              const std::string key = entry.substr(0, eq);
              const std::string value = eq == std::string::npos ? "" : entry.substr(eq + 1);
              if (value.empty())
                  ::unsetenv(key.c_str());
              else
                  ::setenv(key.c_str(), value.c_str(), 1);
          }
          if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) return 124;
          if (options.run_as) {
              const uid_t id = *options.run_as;
              if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 ||
                  ::setresuid(id, id, id) != 0)
                  return 125;
          }
          std::vector<char*> args;
          for (std::string& a : argv) args.push_back(a.data());
          args.push_back(nullptr);
          ::execv(args[0], args.data());
          return 127;
      }) {}

std::string Program::out() const {
    return read_file(out_path_);
}
std::string Program::err() const {
    return read_file(err_path_);
}

bool Program::wait_for_err(std::string_view text, std::chrono::milliseconds timeout,
                           int times) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const std::string now = err();
        int found = 0;
        for (auto at = now.find(text); at != std::string::npos; at = now.find(text, at + 1))
            ++found;
        if (found >= times) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        // The file has no change notification we can wait on cheaply; look at 100 Hz.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::optional<ReaderSummary> parse_summary(const std::string& stdout_text) {
    static const std::regex line(
        R"(summary: frames=(\d+) skipped=(\d+) verified=(\d+) mismatches=(\d+) )"
        R"(fps=(\d+\.\d) latency_p50_us=(\d+) latency_p99_us=(\d+) writer_restarts=(\d+)\n)");
    std::smatch m;
    if (!std::regex_match(stdout_text, m, line)) return std::nullopt;
    ReaderSummary s;
    s.frames = std::stoull(m[1]);
    s.skipped = std::stoull(m[2]);
    s.verified = std::stoull(m[3]);
    s.mismatches = std::stoull(m[4]);
    s.fps = std::stod(m[5]);
    s.latency_p50_us = std::stoull(m[6]);
    s.latency_p99_us = std::stoull(m[7]);
    s.writer_restarts = std::stoull(m[8]);
    return s;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string reader_bin() {
    return FRAMEBUS_READER_BIN;
}
std::string writer_bin() {
    return FRAMEBUS_WRITER_BIN;
}
std::string test_writer_bin() {
    return FRAMEBUS_TEST_WRITER_BIN;
}

}  // namespace framebus::test
