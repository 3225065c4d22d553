// The `framebus` CLI, run as a real process against real segments: a live
// writer, a stale segment, a dead reader's lease, garbage and truncated
// files in /dev/shm. Every segment here is ours (test::unique_name), and ls
// output is filtered to our names: other tests own other segments.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <set>

#include "cli_harness.hpp"
#include "framebus/layout.hpp"
#include "framebus/name.hpp"
#include "framebus/writer.hpp"
#include "test_support.hpp"

namespace framebus::clitest {
namespace {

using nlohmann::json;

bool exists(const std::string& name) {
    return test::read_file(shm_path(name)).has_value();
}

// Fails the test with the CLI's output when the exit code is not `expected`.
void expect_exit(const CliResult& r, int expected, const std::string& what) {
    EXPECT_EQ(r.exit_code, expected) << what << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
}

json ls_json() {
    CliResult r = run_cli({"ls", "--json"});
    expect_exit(r, 0, "ls --json");
    return parse_json(r.out);
}

json info_json(const std::string& name) {
    CliResult r = run_cli({"info", name, "--json"});
    expect_exit(r, 0, "info --json " + name);
    return parse_json(r.out);
}

// The only line of plain `ls` that starts with `name`.
std::string ls_line(const std::string& name) {
    CliResult r = run_cli({"ls"});
    expect_exit(r, 0, "ls");
    for (const std::string& line : lines_with(r.out, name))
        if (line.rfind(name + " ", 0) == 0) return line;
    ADD_FAILURE() << "ls does not list " << name << ":\n" << r.out;
    return {};
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    bytes[0] = 'G';  // never the framebus magic
    return bytes;
}

// --- arguments and help ----------------------------------------------------------

TEST(CliUsage, EverySubcommandHasHelp) {
    for (const char* sub : {"ls", "info", "clean", "watch"}) {
        CliResult r = run_cli({sub, "--help"});
        expect_exit(r, 0, std::string(sub) + " --help");
        EXPECT_NE(r.out.find(std::string("framebus ") + sub), std::string::npos) << r.out;
    }
    CliResult ls_help = run_cli({"ls", "--help"});
    EXPECT_NE(ls_help.out.find("--sample"), std::string::npos);  // how fps is measured
    CliResult watch_help = run_cli({"watch", "--help"});
    EXPECT_NE(watch_help.out.find("--count"), std::string::npos);
    EXPECT_NE(watch_help.out.find("--interval"), std::string::npos);
}

TEST(CliUsage, UsageErrorsExitTwoWithOneLineOnStderr) {
    const std::vector<std::vector<std::string>> bad = {
        {},
        {"frobnicate"},
        {"ls", "--no-such-option"},
        {"info"},
        {"watch"},
        {"clean", "--force"},  // --force never applies to every segment
        {"info", "../etc/passwd"},
        {"info", "a/b"},
        {"clean", ""},  // an empty NAME is not "every segment"
        {"clean", "", "--dry-run"},
        {"watch", "x", "--count", "0"},
        {"watch", "x", "--interval", "0"},
        {"ls", "--sample", "-1"},
        // Issue 15: every number option has a range; nan, tiny and -1 are out.
        {"ls", "--sample", "nan"},
        {"ls", "--sample", "1e-300"},
        {"watch", "x", "--interval", "nan"},
        {"watch", "x", "--interval", "1e10"},
        {"watch", "x", "--count", "-1"},
    };
    for (const auto& args : bad) {
        CliResult r = run_cli(args);
        std::string joined;
        for (const auto& a : args) joined += a + " ";
        expect_exit(r, 2, joined);
        EXPECT_EQ(r.err.rfind("framebus: error: ", 0), 0u) << joined << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << joined << ": " << r.err;
    }
}

TEST(CliUsage, MissingSegmentIsAnInputError) {
    const std::string name = test::unique_name("cli-missing");
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"info", name},
                                               {"info", name, "--json"},
                                               {"clean", name},
                                               {"watch", name, "--count", "1"}}) {
        CliResult r = run_cli(args);
        expect_exit(r, 2, args[0]);
        EXPECT_NE(r.err.find("no segment named '" + name + "'"), std::string::npos) << r.err;
    }
}

// --- a live writer ---------------------------------------------------------------

TEST(CliLiveWriter, LsShowsFormatSequenceWriterAndState) {
    const std::string name = test::unique_name("cli-ls");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 3);
    const std::string line = ls_line(name);
    EXPECT_NE(line.find("64x48 bgr24"), std::string::npos) << line;
    EXPECT_NE(line.find(std::to_string(writer.pid()) + " alive"), std::string::npos) << line;
    EXPECT_NE(line.find(" live"), std::string::npos) << line;

    const json ls = ls_json();
    EXPECT_EQ(ls.at("schema").get<std::string>(), "framebus.ls/2");
    EXPECT_EQ(ls.at("fps_source").get<std::string>(), "ring");
    auto entry = ls_entry(ls, name);
    ASSERT_TRUE(entry);
    const json& s = *entry;
    EXPECT_EQ(s.at("path").get<std::string>(), "/dev/shm/" + name);
    EXPECT_EQ(s.at("state").get<std::string>(), "live");
    EXPECT_TRUE(is_null(s, "error"));
    EXPECT_EQ(s.at("width").get<std::uint32_t>(), 64u);
    EXPECT_EQ(s.at("height").get<std::uint32_t>(), 48u);
    EXPECT_EQ(s.at("pixel_format").get<std::string>(), "bgr24");
    EXPECT_EQ(s.at("cv_type").get<int>(), 16);  // CV_8UC3
    EXPECT_EQ(s.at("stride").get<std::uint64_t>(), 64u * 3);
    EXPECT_EQ(s.at("planes"), json::parse(R"([{"offset": 0, "stride": 192}])"));
    EXPECT_EQ(s.at("slots").get<std::uint32_t>(), kSlots);
    EXPECT_EQ(s.at("slot_capacity").get<std::uint64_t>(), kFormat.bytes());
    EXPECT_EQ(s.at("max_readers").get<std::uint32_t>(), kMaxReaders);
    EXPECT_EQ(s.at("leases_per_reader").get<std::uint32_t>(), WriterOptions{}.leases_per_reader);
    EXPECT_EQ(s.at("last_sequence").get<std::uint64_t>(), 3u);
    EXPECT_EQ(s.at("frames_published").get<std::uint64_t>(), 3u);
    EXPECT_EQ(s.at("frames_dropped").get<std::uint64_t>(), 0u);
    EXPECT_EQ(s.at("writer_pid").get<int>(), writer.pid());
    EXPECT_TRUE(s.at("writer_alive").get<bool>());
    EXPECT_EQ(s.at("writer_state").get<std::string>(), "live");
    EXPECT_EQ(s.at("readers_attached").get<std::uint32_t>(), 0u);
    EXPECT_EQ(s.at("readers_dead").get<std::uint32_t>(), 0u);
    // Three frames published at once, then nothing: at most 3 in the last second.
    const double fps = s.at("fps").get<double>();
    EXPECT_GE(fps, 0.0);
    EXPECT_LE(fps, 3.0);
    EXPECT_GE(s.at("newest_frame_age_ns").get<std::int64_t>(), 0);
    EXPECT_GT(s.at("created_realtime_ns").get<std::int64_t>(), 0);
}

TEST(CliLiveWriter, LsCountsLiveReaders) {
    const std::string name = test::unique_name("cli-readers");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 2);
    HoldingReader reader(name);
    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->at("readers_attached").get<std::uint32_t>(), 1u);
    EXPECT_EQ(entry->at("readers_dead").get<std::uint32_t>(), 0u);
}

TEST(CliLiveWriter, InfoJsonDescribesHeaderSlotsAndReaders) {
    const std::string name = test::unique_name("cli-info");
    ShmFileGuard guard(name);
    const std::int64_t before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    WriterProcess writer(name, 3);
    HoldingReader reader(name);
    ASSERT_EQ(reader.sequence(), 3u);
    const json info = info_json(name);

    EXPECT_EQ(info.at("schema").get<std::string>(), "framebus.info/2");
    EXPECT_EQ(info.at("name").get<std::string>(), name);
    EXPECT_EQ(info.at("path").get<std::string>(), "/dev/shm/" + name);
    EXPECT_EQ(info.at("state").get<std::string>(), "live");
    EXPECT_EQ(info.at("layout_version").get<std::uint32_t>(), layout::kLayoutVersion);
    struct stat st {};
    ASSERT_EQ(::stat(shm_path(name).c_str(), &st), 0);
    EXPECT_EQ(info.at("total_size").get<std::uint64_t>(), static_cast<std::uint64_t>(st.st_size));
    EXPECT_EQ(info.at("data_offset").get<std::uint64_t>() % layout::kPage, 0u);
    EXPECT_EQ(info.at("slot_stride").get<std::uint64_t>() % layout::kPage, 0u);
    EXPECT_EQ(info.at("slot_capacity").get<std::uint64_t>(), kFormat.bytes());
    EXPECT_EQ(info.at("slot_count").get<std::uint32_t>(), kSlots);
    EXPECT_EQ(info.at("max_readers").get<std::uint32_t>(), kMaxReaders);
    EXPECT_EQ(info.at("leases_per_reader").get<std::uint32_t>(), WriterOptions{}.leases_per_reader);
    EXPECT_EQ(info.at("data_offset").get<std::uint64_t>() +
                  kSlots * info.at("slot_stride").get<std::uint64_t>(),
              info.at("total_size").get<std::uint64_t>());
    const auto created = info.at("created_realtime_ns").get<std::int64_t>();
    EXPECT_GE(created, before - 1'000'000'000);  // coarse realtime clocks
    EXPECT_LE(created, before + 60'000'000'000);
    EXPECT_EQ(info.at("created").get<std::string>().back(), 'Z');
    EXPECT_EQ(info.at("mode").get<std::string>(), "0600");
    EXPECT_EQ(info.at("owner_uid").get<std::uint32_t>(), ::getuid());
    EXPECT_EQ(info.at("writer").at("pid").get<int>(), writer.pid());
    EXPECT_GT(info.at("writer").at("start_time").get<std::uint64_t>(), 0u);
    EXPECT_TRUE(info.at("writer").at("alive").get<bool>());
    EXPECT_EQ(info.at("writer").at("state").get<std::string>(), "live");
    EXPECT_EQ(info.at("latest_sequence").get<std::uint64_t>(), 3u);
    EXPECT_EQ(info.at("latest_slot").get<std::uint32_t>(), reader.slot());
    EXPECT_GE(info.at("heartbeat_age_ns").get<std::int64_t>(), 0);
    EXPECT_EQ(info.at("frames_published").get<std::uint64_t>(), 3u);
    EXPECT_EQ(info.at("frames_dropped").get<std::uint64_t>(), 0u);
    EXPECT_EQ(info.at("waiters").get<std::uint32_t>(), 0u);

    std::set<std::uint64_t> sequences;
    int empty = 0;
    for (const auto& slot : info.at("slots")) {
        const auto index = slot.at("index").get<std::uint32_t>();
        const auto sequence = slot.at("sequence").get<std::uint64_t>();
        const auto state = slot.at("state").get<std::string>();
        std::vector<std::uint32_t> holders;
        for (const auto& h : slot.at("holders")) holders.push_back(h.get<std::uint32_t>());
        if (state == "empty") {
            ++empty;
            EXPECT_EQ(sequence, 0u);
            EXPECT_TRUE(is_null(slot, "width"));
            EXPECT_TRUE(is_null(slot, "publish_ns"));
            EXPECT_TRUE(holders.empty());
            continue;
        }
        ASSERT_EQ(state, "committed") << "slot " << index;
        sequences.insert(sequence);
        EXPECT_EQ(slot.at("width").get<std::uint32_t>(), 64u);
        EXPECT_EQ(slot.at("height").get<std::uint32_t>(), 48u);
        EXPECT_EQ(slot.at("pixel_format").get<std::string>(), "bgr24");
        EXPECT_EQ(slot.at("cv_type").get<int>(), 16);
        EXPECT_EQ(slot.at("stride").get<std::uint64_t>(), 192u);
        EXPECT_EQ(slot.at("planes"), json::parse(R"([{"offset": 0, "stride": 192}])"));
        EXPECT_EQ(slot.at("bytes").get<std::uint64_t>(), kFormat.bytes());
        EXPECT_GE(slot.at("publish_ns").get<std::int64_t>(),
                  slot.at("capture_ns").get<std::int64_t>());
        EXPECT_GE(slot.at("age_ns").get<std::int64_t>(), 0);
        if (index == reader.slot()) {
            EXPECT_EQ(sequence, 3u);
            EXPECT_EQ(holders, std::vector<std::uint32_t>{reader.reader_index()});
        } else {
            EXPECT_TRUE(holders.empty()) << "slot " << index;
        }
    }
    EXPECT_EQ(sequences, (std::set<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(empty, 1);

    const json& readers = info.at("readers");
    ASSERT_EQ(readers.size(), 1u);
    const json& r = readers.at(0);
    EXPECT_EQ(r.at("index").get<std::uint32_t>(), reader.reader_index());
    EXPECT_EQ(r.at("pid").get<int>(), reader.pid());
    EXPECT_TRUE(r.at("alive").get<bool>());
    EXPECT_GT(r.at("start_time").get<std::uint64_t>(), 0u);
    EXPECT_EQ(r.at("last_sequence").get<std::uint64_t>(), 3u);
    EXPECT_EQ(r.at("frames").get<std::uint64_t>(), 1u);
    EXPECT_EQ(r.at("skipped").get<std::uint64_t>(), 0u);
    EXPECT_EQ(r.at("held_slot").get<std::uint32_t>(), reader.slot());
    EXPECT_EQ(r.at("held_slots"), json::array({reader.slot()}));
}

TEST(CliLiveWriter, InfoTextNamesEverything) {
    const std::string name = test::unique_name("cli-infotext");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 2);
    HoldingReader reader(name);
    CliResult r = run_cli({"info", name});
    expect_exit(r, 0, "info");
    for (const std::string& text :
         {"segment      " + name, "layout       version " + std::to_string(layout::kLayoutVersion),
          std::string("mode         0600"),
          "writer       pid " + std::to_string(writer.pid()) + ", alive, live",
          std::string("2 published, 0 dropped, latest sequence 2"), std::string("SLOT"),
          std::string("committed"), std::string("64x48 bgr24"), std::string("READER")})
        EXPECT_NE(r.out.find(text), std::string::npos) << text << " not in:\n" << r.out;
    // The reader's row: index, pid, alive, last sequence 2, 1 frame, 0 skipped, its slot.
    auto rows = lines_with(r.out, " " + std::to_string(reader.pid()) + "  ");
    ASSERT_EQ(rows.size(), 1u) << r.out;
    EXPECT_NE(rows[0].find("yes"), std::string::npos) << rows[0];
}

TEST(CliLiveWriter, EndOfStreamIsAState) {
    const std::string name = test::unique_name("cli-eos");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 1);
    ASSERT_TRUE(writer.end_of_stream());
    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->at("state").get<std::string>(), "end-of-stream");
    EXPECT_EQ(entry->at("writer_state").get<std::string>(), "end-of-stream");
    EXPECT_NE(ls_line(name).find("end-of-stream"), std::string::npos);
}

TEST(CliLiveWriter, SampledFpsCountsFramesOfAPublishingWriter) {
    const std::string name = test::unique_name("cli-fps");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 1, /*keep_publishing=*/true, 5ms);  // about 200 fps
    CliResult r = run_cli({"ls", "--json", "--sample", "0.3"});
    expect_exit(r, 0, "ls --sample");
    const json ls = parse_json(r.out);
    EXPECT_EQ(ls.at("fps_source").get<std::string>(), "sample");
    EXPECT_DOUBLE_EQ(ls.at("sample_seconds").get<double>(), 0.3);
    auto entry = ls_entry(ls, name);
    ASSERT_TRUE(entry);
    // A paced writer on a shared machine: loose bounds, but never 0 and never
    // more than the pacing allows.
    EXPECT_GT(entry->at("fps").get<double>(), 0.0);
    EXPECT_LT(entry->at("fps").get<double>(), 250.0);
    auto ring = ls_entry(ls_json(), name);
    ASSERT_TRUE(ring);
    EXPECT_GT(ring->at("fps").get<double>(), 0.0);
    EXPECT_LT(ring->at("fps").get<double>(), 250.0);
}

// --- stale segments, dead readers, live segments in clean ---------------------------

TEST(CliClean, StaleSegmentIsListedStaleAndRemoved) {
    const std::string name = test::unique_name("cli-stale");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 2);
    const pid_t writer_pid = writer.pid();
    writer.kill_hard();
    ASSERT_TRUE(exists(name));

    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->at("state").get<std::string>(), "stale");
    EXPECT_FALSE(entry->at("writer_alive").get<bool>());
    EXPECT_NE(ls_line(name).find(std::to_string(writer_pid) + " dead"), std::string::npos);

    CliResult dry = run_cli({"clean", name, "--dry-run"});
    expect_exit(dry, 0, "clean --dry-run");
    EXPECT_EQ(dry.out, "would remove stale segment " + name + " (writer pid " +
                           std::to_string(writer_pid) + " dead, no live reader)\n");
    EXPECT_TRUE(exists(name));

    CliResult clean = run_cli({"clean", name});
    expect_exit(clean, 0, "clean");
    EXPECT_EQ(clean.out, "removed stale segment " + name + " (writer pid " +
                             std::to_string(writer_pid) + " dead, no live reader)\n");
    EXPECT_FALSE(exists(name));
    expect_exit(run_cli({"info", name}), 2, "info after clean");
}

TEST(CliClean, DeadReadersLeaseIsReclaimed) {
    const std::string name = test::unique_name("cli-reclaim");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 3);
    HoldingReader reader(name);
    const pid_t reader_pid = reader.pid();
    reader.kill_hard();

    // Before: the dead reader still holds its slot.
    json info = info_json(name);
    ASSERT_EQ(info.at("readers").size(), 1u);
    const json& dead = info.at("readers").at(0);
    EXPECT_EQ(dead.at("pid").get<int>(), reader_pid);
    EXPECT_FALSE(dead.at("alive").get<bool>());
    EXPECT_EQ(dead.at("held_slot").get<std::uint32_t>(), reader.slot());
    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->at("readers_attached").get<std::uint32_t>(), 0u);
    EXPECT_EQ(entry->at("readers_dead").get<std::uint32_t>(), 1u);
    EXPECT_NE(ls_line(name).find("0 (+1 dead)"), std::string::npos);

    const std::string what = "dead reader " + std::to_string(reader.reader_index()) + " (pid " +
                             std::to_string(reader_pid) + ") in " + name + ": its lease on slot " +
                             std::to_string(reader.slot());
    // The writer lives, so clean NAME keeps the segment (exit 0) after reclaiming.
    const std::string kept = "kept segment " + name + ": its writer pid " +
                             std::to_string(writer.pid()) + " is alive (--force removes it)\n";
    CliResult dry = run_cli({"clean", name, "--dry-run"});
    expect_exit(dry, 0, "clean --dry-run");
    EXPECT_EQ(dry.out, "would reclaim " + what + "\n" + kept);
    EXPECT_EQ(info_json(name).at("readers").size(), 1u);  // dry run: unchanged

    CliResult clean = run_cli({"clean", name});
    expect_exit(clean, 0, "clean");
    EXPECT_EQ(clean.out, "reclaimed " + what + "\n" + kept);
    EXPECT_EQ(clean.err, "");

    info = info_json(name);
    EXPECT_EQ(info.at("readers").size(), 0u);
    for (const auto& slot : info.at("slots"))
        EXPECT_TRUE(slot.at("holders").empty()) << "slot " << slot.at("index").get<int>();
    EXPECT_TRUE(exists(name));
    // Nothing left to reclaim: a second clean prints no action.
    CliResult again = run_cli({"clean", name});
    expect_exit(again, 0, "clean again");
    EXPECT_EQ(again.out, kept);
}

TEST(CliClean, LiveSegmentNeedsForce) {
    const std::string name = test::unique_name("cli-force");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 1);
    const std::string pid = std::to_string(writer.pid());

    CliResult refused = run_cli({"clean", name});
    expect_exit(refused, 0, "clean live");
    EXPECT_EQ(refused.out, "kept segment " + name + ": its writer pid " + pid +
                               " is alive (--force removes it)\n");
    EXPECT_EQ(refused.err, "");
    EXPECT_TRUE(exists(name));

    CliResult dry = run_cli({"clean", name, "--force", "--dry-run"});
    expect_exit(dry, 0, "clean --force --dry-run");
    EXPECT_EQ(dry.out, "would remove segment " + name + " of writer pid " + pid +
                           " (alive, no live reader)\n");
    EXPECT_TRUE(exists(name));

    CliResult forced = run_cli({"clean", name, "--force"});
    expect_exit(forced, 0, "clean --force");
    EXPECT_EQ(forced.out,
              "removed segment " + name + " of writer pid " + pid + " (alive, no live reader)\n");
    EXPECT_FALSE(exists(name));
}

TEST(CliClean, DeadWriterWithALiveReaderIsNotRemoved) {
    const std::string name = test::unique_name("cli-inuse");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 1);
    HoldingReader reader(name);
    writer.kill_hard();
    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->at("state").get<std::string>(), "stale");  // the writer is gone...
    EXPECT_EQ(entry->at("readers_attached").get<std::uint32_t>(), 1u);
    CliResult r = run_cli({"clean", name});  // ...but a reader still uses it
    expect_exit(r, 0, "clean in use");
    EXPECT_NE(r.out.find("kept segment " + name + ": writer pid"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1 live reader attached"), std::string::npos) << r.out;
    EXPECT_TRUE(exists(name));
}

TEST(CliClean, GlobalDryRunReportsOurSegmentsAndChangesNothing) {
    const std::string stale = test::unique_name("cli-gstale");
    const std::string leaky = test::unique_name("cli-gleak");
    ShmFileGuard stale_guard(stale);
    ShmFileGuard leaky_guard(leaky);
    WriterProcess stale_writer(stale, 1);
    stale_writer.kill_hard();
    WriterProcess live_writer(leaky, 2);
    HoldingReader reader(leaky);
    const pid_t reader_pid = reader.pid();
    reader.kill_hard();
    const auto stale_before = test::read_file(shm_path(stale));
    // The live writer's heartbeat changes its header: compare what clean would change.
    const json leaky_readers_before = info_json(leaky).at("readers");

    CliResult r = run_cli({"clean", "--dry-run"});
    // Other tests' segments may appear too; ours must, with the right action.
    EXPECT_NE(r.exit_code, 2) << r.err;
    EXPECT_EQ(lines_with(r.out, "would remove stale segment " + stale + " ").size(), 1u) << r.out;
    EXPECT_EQ(
        lines_with(r.out, "would reclaim dead reader " + std::to_string(reader.reader_index()) +
                              " (pid " + std::to_string(reader_pid) + ") in " + leaky)
            .size(),
        1u)
        << r.out;
    EXPECT_TRUE(lines_with(r.out, "remove stale segment " + leaky).empty()) << r.out;
    EXPECT_EQ(test::read_file(shm_path(stale)), stale_before);
    EXPECT_EQ(info_json(leaky).at("readers"), leaky_readers_before);
}

TEST(CliClean, OrphanedTemporariesAreRemovedLiveOnesKept) {
    // A writer killed while building a segment leaves a temporary whose
    // writer lock is free; one being built holds it.
    const std::string orphan =
        std::string(kTemporaryPrefix) + "1-0-" + test::unique_name("cli-orphan");
    const std::string building =
        std::string(kTemporaryPrefix) + "1-1-" + test::unique_name("cli-building");
    ShmFileGuard orphan_guard(orphan);
    ShmFileGuard building_guard(building);
    test::write_file(shm_path(orphan), std::string(4096, '\0'));
    test::write_file(shm_path(building), std::string(4096, '\0'));
    const int fd = ::open(shm_path(building).c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_len = 1;  // byte 0: the writer's
    ASSERT_EQ(::fcntl(fd, F_OFD_SETLK, &lock), 0);

    CliResult dry = run_cli({"clean", "--dry-run"});
    EXPECT_EQ(lines_with(dry.out, "would remove orphaned temporary " + shm_path(orphan)).size(), 1u)
        << dry.out;
    EXPECT_TRUE(lines_with(dry.out, building).empty()) << dry.out;
    EXPECT_TRUE(test::read_file(shm_path(orphan)));

    CliResult done = run_cli({"clean"});
    EXPECT_EQ(lines_with(done.out, "removed orphaned temporary " + shm_path(orphan)).size(), 1u)
        << done.out;
    EXPECT_FALSE(test::read_file(shm_path(orphan)));
    EXPECT_TRUE(test::read_file(shm_path(building)));
    ::close(fd);
}

// --- files that are not (valid) framebus segments -------------------------------------

// Everything a file that is not a framebus segment goes through: it must come
// out byte for byte the same.
void expect_left_alone(const std::string& name) {
    const std::string path = shm_path(name);
    const auto before = test::read_file(path);
    ASSERT_TRUE(before);
    struct stat st_before {};
    ASSERT_EQ(::stat(path.c_str(), &st_before), 0);

    EXPECT_FALSE(ls_entry(ls_json(), name)) << name << " listed by ls";
    CliResult plain = run_cli({"ls"});
    EXPECT_TRUE(lines_with(plain.out, name).empty()) << plain.out;

    for (const auto& args :
         std::vector<std::vector<std::string>>{{"info", name},
                                               {"info", name, "--json"},
                                               {"clean", name},
                                               {"clean", name, "--force"},
                                               {"watch", name, "--count", "1"}}) {
        CliResult r = run_cli(args);
        expect_exit(r, 2, args[0] + " on " + name);
        EXPECT_NE(r.err.find("is not a framebus segment"), std::string::npos) << r.err;
        EXPECT_EQ(r.out, "");
    }
    CliResult dry = run_cli({"clean", "--dry-run"});
    EXPECT_TRUE(lines_with(dry.out, name).empty()) << dry.out;

    EXPECT_EQ(test::read_file(path), before);
    struct stat st_after {};
    ASSERT_EQ(::stat(path.c_str(), &st_after), 0);
    EXPECT_EQ(st_after.st_ino, st_before.st_ino);
    EXPECT_EQ(st_after.st_mtim.tv_sec, st_before.st_mtim.tv_sec);
    EXPECT_EQ(st_after.st_mtim.tv_nsec, st_before.st_mtim.tv_nsec);
}

TEST(CliForeignFiles, GarbageIsIgnoredAndUntouched) {
    const std::string name = test::unique_name("cli-garbage");
    ShmFileGuard guard(name);
    test::write_file(shm_path(name), random_bytes(64 * 1024, 42));
    expect_left_alone(name);
}

TEST(CliForeignFiles, SmallAndEmptyFilesAreLeftByteForByte) {
    for (const std::string& content :
         {std::string("hello, not a segment\n"), std::string(), std::string("FFR")}) {
        const std::string name = test::unique_name("cli-text" + std::to_string(content.size()));
        ShmFileGuard guard(name);
        test::write_file(shm_path(name), content);
        expect_left_alone(name);
    }
}

// A framebus segment that fails validation: listed as corrupt, refused by
// info (2), kept by clean without --force, removed with it.
void expect_corrupt_handling(const std::string& name, const std::string& reason = "corrupt") {
    const std::string path = shm_path(name);
    const auto bytes = test::read_file(path);
    ASSERT_TRUE(bytes);

    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry) << name << " not listed";
    EXPECT_EQ(entry->at("state").get<std::string>(), "corrupt");
    EXPECT_NE(entry->at("error").get<std::string>().find(reason), std::string::npos)
        << entry->at("error").get<std::string>();
    EXPECT_TRUE(is_null(*entry, "writer_pid"));
    EXPECT_NE(ls_line(name).find("corrupt ("), std::string::npos);

    CliResult info = run_cli({"info", name});
    expect_exit(info, 2, "info on corrupt");
    EXPECT_EQ(info.err.rfind("framebus: error: /dev/shm/" + name, 0), 0u) << info.err;
    EXPECT_NE(info.err.find(reason), std::string::npos) << info.err;

    CliResult watch = run_cli({"watch", name, "--count", "1"});
    expect_exit(watch, 2, "watch on corrupt");

    CliResult clean = run_cli({"clean", name});
    expect_exit(clean, 2, "clean on corrupt");
    EXPECT_NE(clean.err.find("not removed (--force removes it)"), std::string::npos) << clean.err;
    CliResult global = run_cli({"clean", "--dry-run"});
    EXPECT_EQ(lines_with(global.out, "skipped corrupt segment " + name + " ").size(), 1u)
        << global.out;
    CliResult dry = run_cli({"clean", name, "--force", "--dry-run"});
    expect_exit(dry, 0, "clean --force --dry-run on corrupt");
    EXPECT_EQ(dry.out.rfind("would remove corrupt segment " + name + " (", 0), 0u) << dry.out;
    EXPECT_EQ(test::read_file(path), bytes);

    CliResult forced = run_cli({"clean", name, "--force"});
    expect_exit(forced, 0, "clean --force on corrupt");
    EXPECT_EQ(forced.out.rfind("removed corrupt segment " + name + " (", 0), 0u) << forced.out;
    EXPECT_FALSE(exists(name));
}

class CliTruncated : public ::testing::TestWithParam<std::size_t> {};

TEST_P(CliTruncated, TruncatedSegmentIsCorrupt) {
    const std::string source = test::unique_name("cli-trsrc");
    const std::string name = test::unique_name("cli-trunc" + std::to_string(GetParam()));
    ShmFileGuard source_guard(source);
    ShmFileGuard guard(name);
    WriterProcess writer(source, 3);
    auto bytes = test::read_file(shm_path(source));
    ASSERT_TRUE(bytes);
    // 0 stands for "all but the last byte".
    const std::size_t keep = GetParam() == 0 ? bytes->size() - 1 : GetParam();
    ASSERT_LT(keep, bytes->size());
    test::write_file(shm_path(name), bytes->substr(0, keep));
    expect_corrupt_handling(name);
    EXPECT_TRUE(exists(source));  // the original is untouched
}

// Inside the magic's neighbourhood, mid-header, mid-control region, one short.
INSTANTIATE_TEST_SUITE_P(Lengths, CliTruncated, ::testing::Values(12, 200, 700, 0));

// The framebus magic and a layout version, then noise.
std::string magic_then_noise(std::uint32_t version) {
    std::string bytes = random_bytes(16 * 1024, 7);
    const std::uint64_t magic = layout::kMagic;
    bytes.replace(0, sizeof magic, reinterpret_cast<const char*>(&magic), sizeof magic);
    bytes.replace(8, sizeof version, reinterpret_cast<const char*>(&version), sizeof version);
    return bytes;
}

TEST(CliCorrupt, MagicFollowedByGarbageIsCorrupt) {
    const std::string name = test::unique_name("cli-magic");
    ShmFileGuard guard(name);
    test::write_file(shm_path(name), magic_then_noise(layout::kLayoutVersion));
    expect_corrupt_handling(name, "is a corrupt framebus segment: ");
}

// --- segments of another layout version ---------------------------------------------

// A layout version 1 header, written by hand: an older framebus's segment.
constexpr std::uint32_t kOtherLayoutVersion = 1;
static_assert(layout::kLayoutVersion > kOtherLayoutVersion);

// Holds the writer lock of a segment file, as its (other framebus's) writer would.
class WriterLockHolder {
  public:
    explicit WriterLockHolder(const std::string& name)
        : fd_(::open(shm_path(name).c_str(), O_RDWR | O_CLOEXEC)) {
        struct flock lock {};
        lock.l_type = F_WRLCK;
        lock.l_whence = SEEK_SET;
        lock.l_start = layout::kWriterLockByte;
        lock.l_len = 1;
        locked_ = fd_ >= 0 && ::fcntl(fd_, F_OFD_SETLK, &lock) == 0;
    }
    ~WriterLockHolder() {
        if (fd_ >= 0) ::close(fd_);
    }
    WriterLockHolder(const WriterLockHolder&) = delete;
    WriterLockHolder& operator=(const WriterLockHolder&) = delete;
    [[nodiscard]] bool locked() const { return locked_; }

  private:
    int fd_;
    bool locked_ = false;
};

// ls lists it with the library's reason; info and watch refuse it with it.
void expect_listed_with_reason(std::uint32_t version, const std::string& reason) {
    const std::string name = test::unique_name("cli-version");
    ShmFileGuard guard(name);
    test::write_file(shm_path(name), magic_then_noise(version));
    const WriterLockHolder writer(name);  // alive: another test's global clean keeps it
    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry) << name << " not listed";
    EXPECT_EQ(entry->at("state").get<std::string>(), "incompatible");
    EXPECT_NE(entry->at("error").get<std::string>().find(reason), std::string::npos)
        << entry->at("error");
    EXPECT_TRUE(is_null(*entry, "writer_pid"));
    EXPECT_NE(ls_line(name).find("incompatible ("), std::string::npos);
    EXPECT_NE(ls_line(name).find(reason), std::string::npos);
    for (const char* command : {"info", "watch"}) {
        CliResult r = run_cli({command, name});
        expect_exit(r, 2, std::string(command) + " on another layout version");
        EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
    }
}

TEST(CliOtherLayout, OlderIsListedWithTheLibrarysReason) {
    expect_listed_with_reason(kOtherLayoutVersion, "made by an older framebus; restart its writer");
}

TEST(CliOtherLayout, NewerIsListedWithTheLibrarysReason) {
    expect_listed_with_reason(layout::kLayoutVersion + 1,
                              "made by a newer framebus (layout version " +
                                  std::to_string(layout::kLayoutVersion + 1) + ")");
}

TEST(CliOtherLayout, CleanRemovesItWhenItsWriterIsDead) {
    const std::string name = test::unique_name("cli-oldgone");
    ShmFileGuard guard(name);
    test::write_file(shm_path(name), magic_then_noise(kOtherLayoutVersion));
    CliResult dry = run_cli({"clean", "--dry-run"});
    EXPECT_EQ(lines_with(dry.out, "would remove segment " + name +
                                      " of another layout version, "
                                      "writer dead")
                  .size(),
              1u)
        << dry.out;
    EXPECT_TRUE(exists(name));
    CliResult clean = run_cli({"clean"});
    EXPECT_NE(clean.exit_code, 2) << clean.err;
    EXPECT_EQ(
        lines_with(clean.out, "removed segment " + name + " of another layout version").size(), 1u)
        << clean.out;
    EXPECT_FALSE(exists(name));

    test::write_file(shm_path(name), magic_then_noise(kOtherLayoutVersion));
    CliResult named = run_cli({"clean", name});  // by name: the same, no --force needed
    expect_exit(named, 0, "clean NAME on another layout version, writer dead");
    EXPECT_FALSE(exists(name));
}

TEST(CliOtherLayout, CleanKeepsItWhileItsWriterLives) {
    const std::string name = test::unique_name("cli-oldlive");
    ShmFileGuard guard(name);
    test::write_file(shm_path(name), magic_then_noise(kOtherLayoutVersion));
    WriterLockHolder writer(name);
    ASSERT_TRUE(writer.locked());
    CliResult global = run_cli({"clean", "--dry-run"});
    EXPECT_EQ(lines_with(global.out, "skipped segment " + name + ": its writer is alive").size(),
              1u)
        << global.out;
    CliResult named = run_cli({"clean", name});
    expect_exit(named, 0, "clean NAME on another layout version, writer alive");
    EXPECT_NE(named.out.find("kept segment " + name + ": its writer is alive"), std::string::npos)
        << named.out;
    EXPECT_TRUE(exists(name));
    CliResult forced = run_cli({"clean", name, "--force"});
    expect_exit(forced, 0, "clean NAME --force");
    EXPECT_FALSE(exists(name));
}

// --- watch ---------------------------------------------------------------------------

TEST(CliWatch, RefreshesCountTimesThenExits) {
    const std::string name = test::unique_name("cli-watch");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 3);
    HoldingReader reader(name);
    CliResult r = run_cli({"watch", name, "--count", "3", "--interval", "0.05"});
    expect_exit(r, 0, "watch --count 3");
    EXPECT_EQ(lines_with(r.out, name + "  refresh ").size(), 3u) << r.out;
    EXPECT_EQ(lines_with(r.out, "refresh 4").size(), 0u);
    EXPECT_NE(r.out.find("state live  writer pid " + std::to_string(writer.pid()) + " alive"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("frame 64x48 bgr24  fps "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("latest seq 3"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("latency newest frame age "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::to_string(reader.slot()) + ":#3[r" +
                         std::to_string(reader.reader_index()) + "]"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("SKIPPED"), std::string::npos) << r.out;
}

TEST(CliWatch, CtrlCEndsItWithExitZero) {
    const std::string name = test::unique_name("cli-sigint");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 1);
    CliProcess watch({"watch", name, "--interval", "0.05"});
    ASSERT_TRUE(watch.wait_for_out("refresh 2", 10s)) << watch.out();  // it is running
    watch.kill(SIGINT);
    EXPECT_EQ(watch.wait(10s), std::optional<int>(0)) << watch.out();
}

TEST(CliWatch, KeepsWatchingWhenTheSegmentGoes) {
    const std::string name = test::unique_name("cli-wgone");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 1);
    CliProcess watch({"watch", name, "--interval", "0.05"});
    ASSERT_TRUE(watch.wait_for_out("refresh 1", 10s)) << watch.out();
    expect_exit(run_cli({"clean", name, "--force"}), 0, "clean --force");
    ASSERT_TRUE(watch.wait_for_out("no segment named '" + name + "'", 10s)) << watch.out();
    watch.kill(SIGTERM);
    EXPECT_EQ(watch.wait(10s), std::optional<int>(0));
}

}  // namespace
}  // namespace framebus::clitest
