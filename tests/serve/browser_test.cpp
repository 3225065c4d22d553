// The page in a real browser: Debian's chromium, headless, driven over the
// DevTools protocol (a Beast WebSocket). The test waits for the preview
// <img> to have a size (an MJPEG image never fires `load`: naturalWidth is the
// signal), takes a screenshot, and checks the preview region against the
// frame the writer publishes (four solid quadrants). Skipped, saying why,
// where chromium cannot start.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "serve_harness.hpp"
#include "test_support.hpp"

namespace framebus::test {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using json = nlohmann::json;

// One DevTools page session: commands by id, answers matched by id (events skipped).
class DevTools {
  public:
    DevTools(unsigned short port, const std::string& path) : socket_(io_) {
        socket_.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
        socket_.handshake("127.0.0.1:" + std::to_string(port), path);
    }
    json call(const std::string& method, json params = json::object()) {
        const int id = ++last_id_;
        socket_.write(net::buffer(json{{"id", id}, {"method", method}, {"params", params}}.dump()));
        for (;;) {
            beast::flat_buffer buffer;
            socket_.read(buffer);
            json message = json::parse(beast::buffers_to_string(buffer.data()));
            if (message.value("id", 0) == id) return message;
        }
    }
    json evaluate(const std::string& expression) {
        return call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}})
            .at("result")
            .at("result");
    }

  private:
    net::io_context io_;
    websocket::stream<net::ip::tcp::socket> socket_;
    int last_id_ = 0;
};

std::string base64_decode(const std::string& text) {
    std::string bytes(beast::detail::base64::decoded_size(text.size()), '\0');
    const auto [written, read] =
        beast::detail::base64::decode(bytes.data(), text.data(), text.size());
    bytes.resize(written);
    return bytes;
}

TEST(ServeBrowser, ThePageShowsEachSegmentLiveInHeadlessChromium) {
    const std::string chromium = FRAMEBUS_CHROMIUM;
    if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh)";
    const std::string name = unique_name("serve-browser");
    auto writer = start_writer(name, 30, /*blocks=*/true);
    ServeProcess serve;
    ASSERT_TRUE(serve.ready()) << serve.program().err();

    TempDir profile;
    Program browser({chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                     "--user-data-dir=" + profile.path().string(), "--remote-debugging-port=0",
                     "--window-size=1100,700",
                     "http://127.0.0.1:" + std::to_string(serve.port()) + "/"});
    const std::string marker = "DevTools listening on ws://127.0.0.1:";
    if (!browser.wait_for_err(marker, 30s))
        GTEST_SKIP() << "chromium could not start here: " << browser.err();
    const std::string err = browser.err();
    const auto devtools_port =
        static_cast<unsigned short>(std::stoi(err.substr(err.find(marker) + marker.size())));

    // The page target's WebSocket (the browser opens it with the URL given).
    std::string page_path;
    for (int attempt = 0; attempt < 100 && page_path.empty(); ++attempt) {
        if (auto list = http_get(devtools_port, "/json/list", 5s); list && list->status == 200)
            for (const auto& target : json::parse(list->body))
                if (target.value("type", "") == "page" &&
                    target.value("url", "").find("127.0.0.1:" + std::to_string(serve.port())) !=
                        std::string::npos) {
                    const std::string url = target.at("webSocketDebuggerUrl");
                    page_path = url.substr(url.find("/devtools/"));
                }
        if (page_path.empty()) std::this_thread::sleep_for(100ms);
    }
    ASSERT_FALSE(page_path.empty()) << "no page target";
    DevTools devtools(devtools_port, page_path);

    // Wait for the DOM, then for the preview to have a decoded frame.
    const std::string probe = R"js((() => {
        if (document.readyState === "loading") return null;
        const img = document.getElementById("preview-)js" +
                              name + R"js(");
        if (!img || img.naturalWidth === 0) return null;
        img.scrollIntoView({block: "nearest", inline: "nearest"});  // other segments may list first
        const r = img.getBoundingClientRect();
        return {naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
                x: r.left, y: r.top, width: r.width, height: r.height};
    })())js";
    json preview;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
        preview = devtools.evaluate(probe).value("value", json());
        if (!preview.is_null()) break;
        std::this_thread::sleep_for(50ms);  // polling the page's state
    }
    ASSERT_FALSE(preview.is_null()) << "the preview image never got a frame";
    EXPECT_EQ(preview.at("naturalWidth"), 480);
    EXPECT_EQ(preview.at("naturalHeight"), 360);

    // The page's facts count the server's own reader, attached for this preview.
    const std::string facts_probe = R"js((() => {
        const img = document.getElementById("preview-)js" +
                                    name + R"js(");
        return img.parentElement.querySelector(".facts").textContent;
    })())js";
    std::string facts;
    const auto facts_deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < facts_deadline) {
        facts = devtools.evaluate(facts_probe).value("value", std::string());
        if (facts.find("readers 1 ") != std::string::npos) break;
        std::this_thread::sleep_for(50ms);  // polling the page's state
    }
    EXPECT_NE(facts.find("readers 1 "), std::string::npos) << facts;

    const json shot = devtools.call("Page.captureScreenshot", {{"format", "png"}});
    const std::string png = base64_decode(shot.at("result").at("data"));
    const cv::Mat screen = decode(png, cv::IMREAD_COLOR);
    ASSERT_FALSE(screen.empty());
    const cv::Rect region(preview.at("x").get<int>(), preview.at("y").get<int>(),
                          preview.at("width").get<int>(), preview.at("height").get<int>());
    ASSERT_TRUE((region & cv::Rect(0, 0, screen.cols, screen.rows)) == region)
        << "the preview is on screen";
    EXPECT_LT(blocks_error(screen(region)), 8.0) << "the preview shows the frame";
    cv::imwrite(FRAMEBUS_SCREENSHOT_OUT, screen);  // the README's picture
}

}  // namespace
}  // namespace framebus::test
