// A tiny streaming JSON writer for the CLI's --json output: pretty-printed,
// with strict string escaping (control characters as \uXXXX, invalid UTF-8
// replaced by U+FFFD) so any parser accepts what we print, whatever bytes a
// corrupt segment put into a message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace framebus::cli {

class JsonWriter {
  public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view name);

    JsonWriter& value(std::string_view text);
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
    JsonWriter& value(bool flag);
    JsonWriter& value(std::int64_t number);
    JsonWriter& value(std::uint64_t number);
    JsonWriter& value(std::int32_t number) { return value(std::int64_t{number}); }
    JsonWriter& value(std::uint32_t number) { return value(std::uint64_t{number}); }
    JsonWriter& value(double number);  // non-finite numbers become null
    JsonWriter& null();

    // "key": value in one call; an empty optional writes null.
    template <class T>
    JsonWriter& field(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }
    template <class T>
    JsonWriter& field(std::string_view name, const std::optional<T>& v) {
        key(name);
        return v ? value(*v) : null();
    }

    // The document so far, with a final newline once it is complete.
    [[nodiscard]] std::string str() const;

  private:
    void before_value();
    void open(char bracket);
    void close(char bracket);
    void newline_indent();

    struct Level {
        bool first = true;
    };
    std::string out_;
    std::vector<Level> levels_;
    bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_quote(std::string_view text);

}  // namespace framebus::cli
