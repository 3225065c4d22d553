#include "cli_harness.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <stdexcept>

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

std::vector<std::string> with_cli_bin(const std::vector<std::string>& args) {
    std::vector<std::string> argv{FRAMEBUS_CLI_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

}  // namespace

CliResult run_cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    return test::run_program(with_cli_bin(args), timeout);
}

CliProcess::CliProcess(const std::vector<std::string>& args) : test::Program(with_cli_bin(args)) {}

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
    // This writer keeps its heartbeat by hand (below) and never reclaims on
    // its own, so the tests decide when dead readers are cleaned up.
    options.upkeep_interval = std::chrono::milliseconds(0);
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

ShmFileGuard::~ShmFileGuard() {
    ::unlink(shm_path(name_).c_str());
}

nlohmann::json parse_json(const std::string& text) {
    return nlohmann::json::parse(text);
}

std::optional<nlohmann::json> ls_entry(const nlohmann::json& ls, const std::string& name) {
    for (const nlohmann::json& segment : ls.at("segments"))
        if (segment.at("name").get<std::string>() == name) return segment;
    return std::nullopt;
}

bool is_null(const nlohmann::json& tree, const std::string& key) {
    return tree.contains(key) && tree.at(key).is_null();
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
    std::vector<std::string> lines = test::lines_of(text);
    std::erase_if(lines,
                  [&](const std::string& line) { return line.find(needle) == std::string::npos; });
    return lines;
}

}  // namespace framebus::clitest
