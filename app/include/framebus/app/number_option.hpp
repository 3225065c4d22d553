// The one range check of every number option of the framebus programs
// (writer, reader, CLI): a CLI11 validator that accepts a finite number in
// [min, max] (and, where an option says so, 0 with its own meaning) and
// rejects everything else — nan, inf, 1e-300 where the least is 0.01, -1 for
// a count, 1e10 seconds — with the range in the message. CLI11's own
// CLI::Range lets nan through (every comparison with nan is false) and
// converts "-1" to a huge unsigned count.
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

#include <fmt/format.h>

namespace framebus::app {

// What zero means when it lies outside [min, max] but is accepted anyway
// ("0: no limit"); nullptr when zero is just another value.
template <class T>
CLI::Validator number_in(T min, T max, const char* zero_means = nullptr) {
    static_assert(std::is_arithmetic_v<T>);
    std::string range = fmt::format("{}..{}", min, max);
    if (zero_means != nullptr) range += fmt::format(", or 0 ({})", zero_means);
    return CLI::Validator(
        [min, max, zero_means, range](std::string& text) -> std::string {
            T value{};
            const char* first = text.data();
            const char* last = text.data() + text.size();
            std::from_chars_result parsed{};
            if constexpr (std::is_floating_point_v<T>)
                parsed = std::from_chars(first, last, value, std::chars_format::general);
            else
                parsed = std::from_chars(first, last, value);  // no sign for unsigned types
            const bool number = !text.empty() && parsed.ec == std::errc{} && parsed.ptr == last;
            bool finite = number;
            if constexpr (std::is_floating_point_v<T>) finite = number && std::isfinite(value);
            if (finite && zero_means != nullptr && value == T{0}) return {};
            if (finite && value >= min && value <= max) return {};
            return fmt::format("'{}' is out of range: give a number in {}", text, range);
        },
        fmt::format("{}..{}", min, max));
}

}  // namespace framebus::app
