#include "text_table.hpp"

#include <algorithm>

namespace framebus::cli {

std::string TextTable::render() const {
    std::vector<std::size_t> widths;
    for (const Column& c : columns_) widths.push_back(c.title.size());
    for (const auto& row : rows_)
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());

    std::string out;
    auto emit = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            const std::string cell = i < cells.size() ? cells[i] : std::string();
            const std::size_t pad = widths[i] - std::min(widths[i], cell.size());
            const bool last = i + 1 == columns_.size();
            if (i > 0) line += "  ";
            if (columns_[i].align == Align::right) line.append(pad, ' ');
            line += cell;
            if (columns_[i].align == Align::left && !last) line.append(pad, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line;
        out += '\n';
    };
    std::vector<std::string> titles;
    for (const Column& c : columns_) titles.push_back(c.title);
    emit(titles);
    for (const auto& row : rows_) emit(row);
    return out;
}

}  // namespace framebus::cli
