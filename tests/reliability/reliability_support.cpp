#include "reliability_support.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "framebus/inspect.hpp"

namespace framebus::reliability {

using namespace std::chrono_literals;

std::unique_ptr<Program> start(std::vector<std::string> argv, test::ProgramOptions options) {
    return std::make_unique<Program>(std::move(argv), std::move(options));
}

bool running(Program& program) {
    return !program.wait(0ms).has_value();
}

bool stop(Program& program) {
    if (!running(program)) return false;
    program.kill(SIGSTOP);
    for (;;) {
        // WNOWAIT: the report stays for Program's own reaping if it exited.
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(program.pid()), &info,
                     WSTOPPED | WEXITED | WNOWAIT) != 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (info.si_code != CLD_STOPPED) return false;
        // Consume the stop report, so the next stop waits for a new one.
        siginfo_t consumed{};
        (void)::waitid(P_PID, static_cast<id_t>(program.pid()), &consumed, WSTOPPED | WNOHANG);
        return true;
    }
}

std::string describe(Program& program) {
    std::ostringstream s;
    const auto code = program.wait(0ms);
    s << "pid " << program.pid() << ", ";
    if (code)
        s << "exit " << *code;
    else
        s << "running";
    s << "\n--- stdout ---\n" << program.out() << "--- stderr ---\n" << program.err() << "---";
    return s.str();
}

std::optional<std::map<std::string, std::string>> summary_fields(const std::string& text,
                                                                 const std::string& prefix) {
    for (const std::string& line : test::lines_of(text)) {
        if (!line.starts_with(prefix)) continue;
        std::map<std::string, std::string> fields;
        std::istringstream words(line.substr(prefix.size()));
        std::string word;
        while (words >> word) {
            const auto eq = word.find('=');
            if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
        }
        return fields;
    }
    return std::nullopt;
}

std::uint64_t field_u64(const std::map<std::string, std::string>& fields, const std::string& key) {
    const auto it = fields.find(key);
    if (it == fields.end()) throw std::runtime_error("summary has no field '" + key + "'");
    return std::stoull(it->second);
}

SegmentGuard::~SegmentGuard() {
    ::shm_unlink(name_.c_str());
    for (const std::string& temporary : orphaned_temporaries_of(name_))
        (void)remove_orphaned_temporary(temporary);
}

std::vector<std::string> orphaned_temporaries_of(const std::string& name) {
    std::vector<std::string> ours;
    const std::string suffix = "-" + name;
    for (std::string& t : orphaned_temporaries())
        if (t.size() > suffix.size() && t.ends_with(suffix)) ours.push_back(std::move(t));
    return ours;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
}

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return 0;
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && (fields >> field); ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace framebus::reliability
