#include <framebus/name.hpp>
#include <framebus/writer.hpp>

int main() {
    // Links and runs: validate a name through the installed library.
    return framebus::validate_name("consumer") && !framebus::validate_name("a/b") ? 0 : 1;
}
