#include "writer_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

extern char** environ;

namespace framebus::test {

namespace {

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

WriterProcess::WriterProcess(const std::vector<std::string>& args,
                             const std::filesystem::path& output_dir) {
    static int counter = 0;
    const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(++counter);
    stdout_path_ = output_dir / ("writer-" + tag + ".out");
    stderr_path_ = output_dir / ("writer-" + tag + ".err");

    std::vector<std::string> argv_strings{FRAMEBUS_WRITER_BIN};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw std::runtime_error("posix_spawn " + argv_strings[0] + " failed");
}

WriterProcess::~WriterProcess() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

void WriterProcess::signal(int signal) const {
    if (pid_ > 0) ::kill(pid_, signal);
}

std::optional<int> WriterProcess::wait_exit_code(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            if (WIFSIGNALED(status)) return -WTERMSIG(status);
            return std::nullopt;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        // waitpid has no timeout; poll it (the exit itself is the signal).
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

std::string WriterProcess::stdout_text() const {
    return read_text(stdout_path_);
}
std::string WriterProcess::stderr_text() const {
    return read_text(stderr_path_);
}

WriterRun run_writer(const std::vector<std::string>& args, const std::filesystem::path& output_dir,
                     std::chrono::milliseconds timeout) {
    WriterProcess writer(args, output_dir);
    WriterRun run;
    run.exit_code = writer.wait_exit_code(timeout);
    run.out = writer.stdout_text();
    run.err = writer.stderr_text();
    return run;
}

std::optional<std::uint64_t> summary_value(const std::string& stderr_text, const std::string& key) {
    for (const auto& line : lines_of(stderr_text)) {
        if (!line.starts_with("writer summary: ")) continue;
        const std::string needle = " " + key + "=";
        const auto at = line.find(needle);
        if (at == std::string::npos) return std::nullopt;
        return std::strtoull(line.c_str() + at + needle.size(), nullptr, 10);
    }
    return std::nullopt;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TempDir::TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "fbwriter-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

cv::Mat make_test_frame(int width, int height, int index) {
    cv::Mat frame(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            frame.at<cv::Vec3b>(y, x) =
                cv::Vec3b(static_cast<uchar>(x * 4 + index * 40), static_cast<uchar>(y * 4),
                          static_cast<uchar>(index * 25));
    cv::putText(frame, std::to_string(index), cv::Point(4, height - 8), cv::FONT_HERSHEY_SIMPLEX,
                0.6, cv::Scalar::all(255), 2);
    return frame;
}

std::vector<cv::Mat> make_mjpg_avi(const std::string& path, int width, int height, int count,
                                   double fps) {
    {
        cv::VideoWriter video(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'),
                              fps, cv::Size(width, height));
        if (!video.isOpened()) throw std::runtime_error("cannot write " + path);
        for (int i = 0; i < count; ++i) video.write(make_test_frame(width, height, i));
    }
    std::vector<cv::Mat> decoded;
    cv::VideoCapture capture(path, cv::CAP_FFMPEG);
    for (cv::Mat frame; capture.read(frame);) decoded.push_back(frame.clone());
    if (static_cast<int>(decoded.size()) != count)
        throw std::runtime_error("the test video does not decode to its own frames");
    return decoded;
}

struct FileHttpServer::State {
    std::string body;
    int listener = -1;
    int port = 0;
    std::atomic<bool> stopping{false};
    std::atomic<int> connections{0};
    std::thread thread;

    void serve_one(int client) {
        // Read the request head (up to the blank line), then answer.
        std::string request;
        char buffer[4096];
        while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
            pollfd p{client, POLLIN, 0};
            if (::poll(&p, 1, 5000) <= 0) return;
            const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
            if (n <= 0) return;
            request.append(buffer, static_cast<std::size_t>(n));
        }
        const std::string head =
            "HTTP/1.0 200 OK\r\nContent-Type: video/x-msvideo\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
        const std::string reply = request.starts_with("HEAD ") ? head : head + body;
        for (std::size_t sent = 0; sent < reply.size();) {
            const ssize_t n =
                ::send(client, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;  // the client went away
            sent += static_cast<std::size_t>(n);
        }
    }

    void run() {
        while (!stopping.load()) {
            pollfd p{listener, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;  // wakes to notice `stopping`
            const int client = ::accept(listener, nullptr, nullptr);
            if (client < 0) continue;
            ++connections;
            serve_one(client);
            ::close(client);
        }
    }
};

FileHttpServer::FileHttpServer(const std::string& file) : state_(std::make_unique<State>()) {
    state_->body = read_text(file);
    state_->listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (state_->listener < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // any free port
    socklen_t length = sizeof address;
    if (::bind(state_->listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(state_->listener, 8) != 0 ||
        ::getsockname(state_->listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error("cannot listen on 127.0.0.1");
    state_->port = ntohs(address.sin_port);
    state_->thread = std::thread([state = state_.get()] { state->run(); });
}

FileHttpServer::~FileHttpServer() {
    state_->stopping.store(true);
    state_->thread.join();
    ::close(state_->listener);
}

std::string FileHttpServer::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(state_->port) + "/" + path;
}

int FileHttpServer::connections() const {
    return state_->connections.load();
}

}  // namespace framebus::test
