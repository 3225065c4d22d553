#include "writer_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

namespace framebus::test {

namespace {

std::vector<std::string> with_writer_bin(const std::vector<std::string>& args) {
    std::vector<std::string> argv{FRAMEBUS_WRITER_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

}  // namespace

WriterProcess::WriterProcess(const std::vector<std::string>& args,
                             const std::filesystem::path& output_dir)
    : Program(output_dir, with_writer_bin(args)) {}

ProgramRun run_writer(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    return run_program(with_writer_bin(args), timeout);
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
    state_->body = read_text_file(file);
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
