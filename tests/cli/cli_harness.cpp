#include "cli_harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/property_tree/json_parser.hpp>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "framebus/reader.hpp"
#include "framebus/writer.hpp"

#ifndef FRAMEBUS_CLI_BIN
#error "FRAMEBUS_CLI_BIN must name the framebus binary"
#endif

namespace framebus::clitest {

namespace {

// A child that dies with the test process, so no writer outlives a crash.
void die_with_parent(pid_t parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) std::_Exit(97);
}

pid_t spawn(const std::vector<std::string>& args, int& out_fd, int& err_fd) {
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe2 failed");
    std::vector<std::string> argv_strings{FRAMEBUS_CLI_BIN};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        die_with_parent(parent);
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(err[1], STDERR_FILENO);
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_fd = out[0];
    err_fd = err[0];
    return pid;
}

// Reads what is available on the open fds within timeout_ms; closes (and
// sets to -1) the ones at EOF.
void pump_fds(int& out_fd, std::string& out, int& err_fd, std::string& err, int timeout_ms) {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    const int rc = ::poll(fds, 2, timeout_ms);
    if (rc <= 0) return;
    int* fd_of[2] = {&out_fd, &err_fd};
    std::string* text_of[2] = {&out, &err};
    for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buffer[4096];
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n > 0) {
            text_of[i]->append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            ::close(*fd_of[i]);
            *fd_of[i] = -1;
        }
    }
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1;
}

}  // namespace

CliResult run_cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    CliResult result;
    int out_fd = -1;
    int err_fd = -1;
    const pid_t pid = spawn(args, out_fd, err_fd);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_fd >= 0 || err_fd >= 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            break;
        }
        pump_fds(out_fd, result.out, err_fd, result.err, 100);
    }
    if (out_fd >= 0) ::close(out_fd);
    if (err_fd >= 0) ::close(err_fd);
    int status = 0;
    ::waitpid(pid, &status, 0);  // EOF on both pipes: it has exited (or was killed)
    result.exit_code = std::chrono::steady_clock::now() >= deadline ? -1000 : exit_code_of(status);
    return result;
}

CliProcess::CliProcess(const std::vector<std::string>& args) {
    pid_ = spawn(args, out_fd_, err_fd_);
}

CliProcess::~CliProcess() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
}

void CliProcess::pump(int timeout_ms) {
    pump_fds(out_fd_, out_, err_fd_, err_, timeout_ms);
}

bool CliProcess::read_until(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_.find(text) == std::string::npos) {
        if (out_fd_ < 0 || std::chrono::steady_clock::now() >= deadline) return false;
        pump(50);
    }
    return true;
}

void CliProcess::signal(int sig) const {
    ::kill(pid_, sig);
}

std::optional<int> CliProcess::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_fd_ >= 0 || err_fd_ >= 0) {  // EOF on both: it has exited
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        pump(50);
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
    pid_ = -1;
    return exit_code_of(status);
}

// --- writer and reader processes ---------------------------------------------

namespace {
enum Command : std::uint64_t { kEndOfStream = 1 };

int writer_body(const std::string& name, std::uint64_t frames, bool keep_publishing,
                std::chrono::milliseconds period, pid_t parent, test::Pipe& ready,
                test::Pipe& commands, test::Pipe& acks) {
    die_with_parent(parent);
    WriterOptions options;
    options.name = name;
    options.slots = kSlots;
    options.max_readers = kMaxReaders;
    options.initial_format = kFormat;
    auto writer = Writer::create(options);
    if (!writer) return 10;
    auto publish = [&] {
        auto slot = writer->acquire(kFormat);
        if (!slot) return false;
        test::fill_frame(slot->data(), kFormat.bytes(), slot->sequence());
        slot->commit();
        return true;
    };
    for (std::uint64_t i = 0; i < frames; ++i)
        if (!publish()) return 11;
    ready.send(1);
    // Commands, or heartbeats (and paced frames) while none comes.
    for (;;) {
        auto command = commands.receive(keep_publishing ? period : 100ms);
        if (command && *command == kEndOfStream) {
            writer->end_of_stream();
            keep_publishing = false;
            acks.send(kEndOfStream);
            continue;
        }
        if (keep_publishing) publish();
        writer->heartbeat();
    }
}
}  // namespace

WriterProcess::WriterProcess(const std::string& name, std::uint64_t frames, bool keep_publishing,
                             std::chrono::milliseconds period)
    : ready_(std::make_unique<test::Pipe>()),
      commands_(std::make_unique<test::Pipe>()),
      acks_(std::make_unique<test::Pipe>()) {
    const pid_t parent = ::getpid();
    test::Pipe& ready = *ready_;
    test::Pipe& commands = *commands_;
    test::Pipe& acks = *acks_;
    child_ = std::make_unique<test::Child>([=, &ready, &commands, &acks] {
        return writer_body(name, frames, keep_publishing, period, parent, ready, commands, acks);
    });
    if (!ready_->receive(10s))
        throw std::runtime_error("writer process for '" + name + "' did not become ready (exit " +
                                 std::to_string(child_->wait_exit_code(1s).value_or(-1)) + ")");
}

bool WriterProcess::end_of_stream() {
    commands_->send(kEndOfStream);
    return acks_->receive(10s) == std::optional<std::uint64_t>(kEndOfStream);
}

void WriterProcess::kill_hard() {
    child_->kill(SIGKILL);
    (void)child_->wait(10s);
}

HoldingReader::HoldingReader(const std::string& name) : report_(std::make_unique<test::Pipe>()) {
    const pid_t parent = ::getpid();
    test::Pipe& report = *report_;
    child_ = std::make_unique<test::Child>([=, &report] {
        die_with_parent(parent);
        auto reader = Reader::open(name);
        if (!reader) return 20;
        auto lease = reader->latest();
        if (!lease) return 21;
        // sequence (40 bits) | reader index (8 bits) | slot (8 bits)
        report.send(lease->sequence() << 16 | std::uint64_t{reader->reader_index()} << 8 |
                    lease->slot_index());
        for (;;) ::pause();  // hold the lease until killed
    });
    auto reported = report_->receive(10s);
    if (!reported)
        throw std::runtime_error("reader process for '" + name + "' did not lease (exit " +
                                 std::to_string(child_->wait_exit_code(1s).value_or(-1)) + ")");
    slot_ = static_cast<std::uint32_t>(*reported & 0xff);
    reader_index_ = static_cast<std::uint32_t>(*reported >> 8 & 0xff);
    sequence_ = *reported >> 16;
}

void HoldingReader::kill_hard() {
    child_->kill(SIGKILL);
    (void)child_->wait(10s);
}

// --- files and JSON ------------------------------------------------------------

std::string shm_path(const std::string& name) {
    return "/dev/shm/" + name;
}

std::optional<std::string> read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string bytes;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        bytes.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return bytes;
}

void write_file(const std::string& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path);
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (done != bytes.size()) throw std::runtime_error("short write to " + path);
}

ShmFileGuard::~ShmFileGuard() {
    ::unlink(shm_path(name_).c_str());
}

boost::property_tree::ptree parse_json(const std::string& text) {
    std::istringstream in(text);
    boost::property_tree::ptree tree;
    boost::property_tree::read_json(in, tree);
    return tree;
}

std::optional<boost::property_tree::ptree> ls_entry(const boost::property_tree::ptree& ls,
                                                    const std::string& name) {
    for (const auto& [key, segment] : ls.get_child("segments"))
        if (segment.get<std::string>("name") == name) return segment;
    return std::nullopt;
}

bool is_null(const boost::property_tree::ptree& tree, const std::string& path) {
    auto child = tree.get_child_optional(path);
    return child && child->empty() && child->data() == "null";
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.find(needle) != std::string::npos) lines.push_back(line);
    return lines;
}

}  // namespace framebus::clitest
