#include "program.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace framebus::test {

TempDir::TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "framebus-test-XXXXXX").string();
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
std::atomic<int> g_programs_started{0};

int open_or_throw(const char* path, int flags) {
    const int fd = ::open(path, flags | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error(std::string("cannot open ") + path);
    return fd;
}

// Our environment with `changes` applied ("NAME=value" sets, "NAME=" unsets).
std::vector<std::string> environment_with(const std::vector<std::string>& changes) {
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
    for (const std::string& change : changes) {
        const auto eq = change.find('=');
        const std::string prefix = change.substr(0, eq) + "=";
        std::erase_if(env, [&](const std::string& entry) { return entry.starts_with(prefix); });
        if (eq != std::string::npos && eq + 1 < change.size()) env.push_back(change);
    }
    return env;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (std::string& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // close-on-exec already
#else
    (void)pid;
    return -1;
#endif
}

}  // namespace

Program::Program(const std::filesystem::path& output_dir, std::vector<std::string> argv,
                 ProgramOptions options) {
    start(output_dir, std::move(argv), options);
}

Program::Program(std::vector<std::string> argv, ProgramOptions options)
    : own_dir_(std::make_unique<TempDir>()) {
    start(own_dir_->path(), std::move(argv), options);
}

void Program::start(const std::filesystem::path& output_dir, std::vector<std::string> argv,
                    const ProgramOptions& options) {
    if (argv.empty()) throw std::invalid_argument("Program needs argv[0]");
    const int n = g_programs_started++;
    out_path_ = output_path(output_dir, n, "out");
    err_path_ = output_path(output_dir, n, "err");

    // Everything the child needs is made here: between fork and exec it may
    // only make async-signal-safe calls (the test process may have threads).
    std::vector<std::string> env = environment_with(options.env);
    std::vector<char*> args = pointers_to(argv);
    std::vector<char*> envp = pointers_to(env);
    const int in_fd = open_or_throw("/dev/null", O_RDONLY);
    const int out_fd = open_or_throw(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
    const int err_fd = open_or_throw(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ == 0) {
        if (::dup2(in_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
            ::dup2(err_fd, STDERR_FILENO) < 0)
            ::_exit(126);
        if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(124);
        if (options.run_as) {
            const uid_t id = *options.run_as;
            if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 ||
                ::setresuid(id, id, id) != 0)
                ::_exit(125);
        }
        // After the id change, which clears it: no child outlives a crashed test.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(97);
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    ::close(in_fd);
    ::close(out_fd);
    ::close(err_fd);
    if (pid_ < 0) throw std::runtime_error("fork failed");
    pidfd_ = open_pidfd(pid_);
}

Program::~Program() {
    if (!exit_code_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        (void)reap(true);
    }
    if (pidfd_ >= 0) ::close(pidfd_);
}

void Program::kill(int signal) const {
    if (pid_ > 0 && !exit_code_) ::kill(pid_, signal);
}

bool Program::reap(bool block) {
    if (exit_code_) return true;
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return true;
}

std::optional<int> Program::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (reap(false)) return exit_code_;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        if (pidfd_ >= 0) {
            // The pidfd becomes readable when the child exits: the exit is the signal.
            pollfd p{pidfd_, POLLIN, 0};
            ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
        } else {
            // No pidfd: waitpid has no timeout, so look at 1 kHz.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
}

std::string Program::out() const {
    return read_text_file(out_path_);
}
std::string Program::err() const {
    return read_text_file(err_path_);
}

bool Program::wait_for_out(std::string_view text, std::chrono::milliseconds timeout, int times) {
    return wait_for(out_path_, text, timeout, times);
}
bool Program::wait_for_err(std::string_view text, std::chrono::milliseconds timeout, int times) {
    return wait_for(err_path_, text, timeout, times);
}

bool Program::wait_for(const std::filesystem::path& file, std::string_view text,
                       std::chrono::milliseconds timeout, int times) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const bool exited = reap(false);  // before reading: then the file is complete
        const std::string now = read_text_file(file);
        int found = 0;
        for (auto at = now.find(text); at != std::string::npos; at = now.find(text, at + 1))
            ++found;
        if (found >= times) return true;
        if (exited || std::chrono::steady_clock::now() >= deadline) return false;
        // A file has no change notification we can wait on cheaply; look at 100 Hz.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

ProgramRun run_program(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    Program program(std::move(argv));
    ProgramRun run;
    run.exit_code = program.wait(timeout);
    if (!run.exit_code) {
        program.kill(SIGKILL);
        (void)program.wait(std::chrono::seconds(10));
    }
    run.out = program.out();
    run.err = program.err();
    return run;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) return std::nullopt;
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

std::string read_text_file(const std::filesystem::path& path) {
    return read_file(path).value_or("");
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path.string());
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (done != bytes.size()) throw std::runtime_error("short write to " + path.string());
}

}  // namespace framebus::test
