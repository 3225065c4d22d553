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
#include "test_support.hpp"

namespace framebus::clitest {
namespace {

using boost::property_tree::ptree;

bool exists(const std::string& name) {
    return test::read_file(shm_path(name)).has_value();
}

// Fails the test with the CLI's output when the exit code is not `expected`.
void expect_exit(const CliResult& r, int expected, const std::string& what) {
    EXPECT_EQ(r.exit_code, expected) << what << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
}

ptree ls_json() {
    CliResult r = run_cli({"ls", "--json"});
    expect_exit(r, 0, "ls --json");
    return parse_json(r.out);
}

ptree info_json(const std::string& name) {
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

    const ptree ls = ls_json();
    EXPECT_EQ(ls.get<std::string>("schema"), "framebus.ls/1");
    EXPECT_EQ(ls.get<std::string>("fps_source"), "ring");
    auto entry = ls_entry(ls, name);
    ASSERT_TRUE(entry);
    const ptree& s = *entry;
    EXPECT_EQ(s.get<std::string>("path"), "/dev/shm/" + name);
    EXPECT_EQ(s.get<std::string>("state"), "live");
    EXPECT_TRUE(is_null(s, "error"));
    EXPECT_EQ(s.get<std::uint32_t>("width"), 64u);
    EXPECT_EQ(s.get<std::uint32_t>("height"), 48u);
    EXPECT_EQ(s.get<std::string>("pixel_format"), "bgr24");
    EXPECT_EQ(s.get<int>("cv_type"), 16);  // CV_8UC3
    EXPECT_EQ(s.get<std::uint64_t>("stride"), 64u * 3);
    EXPECT_EQ(s.get<std::uint32_t>("slots"), kSlots);
    EXPECT_EQ(s.get<std::uint64_t>("slot_capacity"), kFormat.bytes());
    EXPECT_EQ(s.get<std::uint32_t>("max_readers"), kMaxReaders);
    EXPECT_EQ(s.get<std::uint64_t>("last_sequence"), 3u);
    EXPECT_EQ(s.get<std::uint64_t>("frames_published"), 3u);
    EXPECT_EQ(s.get<std::uint64_t>("frames_dropped"), 0u);
    EXPECT_EQ(s.get<int>("writer_pid"), writer.pid());
    EXPECT_TRUE(s.get<bool>("writer_alive"));
    EXPECT_EQ(s.get<std::string>("writer_state"), "live");
    EXPECT_EQ(s.get<std::uint32_t>("readers_attached"), 0u);
    EXPECT_EQ(s.get<std::uint32_t>("readers_dead"), 0u);
    // Three frames published at once, then nothing: at most 3 in the last second.
    const double fps = s.get<double>("fps");
    EXPECT_GE(fps, 0.0);
    EXPECT_LE(fps, 3.0);
    EXPECT_GE(s.get<std::int64_t>("newest_frame_age_ns"), 0);
    EXPECT_GT(s.get<std::int64_t>("created_realtime_ns"), 0);
}

TEST(CliLiveWriter, LsCountsLiveReaders) {
    const std::string name = test::unique_name("cli-readers");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 2);
    HoldingReader reader(name);
    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->get<std::uint32_t>("readers_attached"), 1u);
    EXPECT_EQ(entry->get<std::uint32_t>("readers_dead"), 0u);
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
    const ptree info = info_json(name);

    EXPECT_EQ(info.get<std::string>("schema"), "framebus.info/1");
    EXPECT_EQ(info.get<std::string>("name"), name);
    EXPECT_EQ(info.get<std::string>("path"), "/dev/shm/" + name);
    EXPECT_EQ(info.get<std::string>("state"), "live");
    EXPECT_EQ(info.get<std::uint32_t>("layout_version"), layout::kLayoutVersion);
    struct stat st {};
    ASSERT_EQ(::stat(shm_path(name).c_str(), &st), 0);
    EXPECT_EQ(info.get<std::uint64_t>("total_size"), static_cast<std::uint64_t>(st.st_size));
    EXPECT_EQ(info.get<std::uint64_t>("data_offset") % layout::kPage, 0u);
    EXPECT_EQ(info.get<std::uint64_t>("slot_stride") % layout::kPage, 0u);
    EXPECT_EQ(info.get<std::uint64_t>("slot_capacity"), kFormat.bytes());
    EXPECT_EQ(info.get<std::uint32_t>("slot_count"), kSlots);
    EXPECT_EQ(info.get<std::uint32_t>("max_readers"), kMaxReaders);
    EXPECT_EQ(
        info.get<std::uint64_t>("data_offset") + kSlots * info.get<std::uint64_t>("slot_stride"),
        info.get<std::uint64_t>("total_size"));
    const auto created = info.get<std::int64_t>("created_realtime_ns");
    EXPECT_GE(created, before - 1'000'000'000);  // coarse realtime clocks
    EXPECT_LE(created, before + 60'000'000'000);
    EXPECT_EQ(info.get<std::string>("created").back(), 'Z');
    EXPECT_EQ(info.get<std::string>("mode"), "0600");
    EXPECT_EQ(info.get<std::uint32_t>("owner_uid"), ::getuid());
    EXPECT_EQ(info.get<int>("writer.pid"), writer.pid());
    EXPECT_GT(info.get<std::uint64_t>("writer.start_time"), 0u);
    EXPECT_TRUE(info.get<bool>("writer.alive"));
    EXPECT_EQ(info.get<std::string>("writer.state"), "live");
    EXPECT_EQ(info.get<std::uint64_t>("latest_sequence"), 3u);
    EXPECT_EQ(info.get<std::uint32_t>("latest_slot"), reader.slot());
    EXPECT_GE(info.get<std::int64_t>("heartbeat_age_ns"), 0);
    EXPECT_EQ(info.get<std::uint64_t>("frames_published"), 3u);
    EXPECT_EQ(info.get<std::uint64_t>("frames_dropped"), 0u);
    EXPECT_EQ(info.get<std::uint32_t>("waiters"), 0u);

    std::set<std::uint64_t> sequences;
    int empty = 0;
    for (const auto& [key, slot] : info.get_child("slots")) {
        const auto index = slot.get<std::uint32_t>("index");
        const auto sequence = slot.get<std::uint64_t>("sequence");
        const auto state = slot.get<std::string>("state");
        std::vector<std::uint32_t> holders;
        for (const auto& [k, h] : slot.get_child("holders"))
            holders.push_back(h.get_value<std::uint32_t>());
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
        EXPECT_EQ(slot.get<std::uint32_t>("width"), 64u);
        EXPECT_EQ(slot.get<std::uint32_t>("height"), 48u);
        EXPECT_EQ(slot.get<std::string>("pixel_format"), "bgr24");
        EXPECT_EQ(slot.get<int>("cv_type"), 16);
        EXPECT_EQ(slot.get<std::uint64_t>("stride"), 192u);
        EXPECT_EQ(slot.get<std::uint64_t>("bytes"), kFormat.bytes());
        EXPECT_GE(slot.get<std::int64_t>("publish_ns"), slot.get<std::int64_t>("capture_ns"));
        EXPECT_GE(slot.get<std::int64_t>("age_ns"), 0);
        if (index == reader.slot()) {
            EXPECT_EQ(sequence, 3u);
            EXPECT_EQ(holders, std::vector<std::uint32_t>{reader.reader_index()});
        } else {
            EXPECT_TRUE(holders.empty()) << "slot " << index;
        }
    }
    EXPECT_EQ(sequences, (std::set<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(empty, 1);

    const ptree& readers = info.get_child("readers");
    ASSERT_EQ(readers.size(), 1u);
    const ptree& r = readers.begin()->second;
    EXPECT_EQ(r.get<std::uint32_t>("index"), reader.reader_index());
    EXPECT_EQ(r.get<int>("pid"), reader.pid());
    EXPECT_TRUE(r.get<bool>("alive"));
    EXPECT_GT(r.get<std::uint64_t>("start_time"), 0u);
    EXPECT_EQ(r.get<std::uint64_t>("last_sequence"), 3u);
    EXPECT_EQ(r.get<std::uint64_t>("frames"), 1u);
    EXPECT_EQ(r.get<std::uint64_t>("skipped"), 0u);
    EXPECT_EQ(r.get<std::uint32_t>("held_slot"), reader.slot());
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
    EXPECT_EQ(entry->get<std::string>("state"), "end-of-stream");
    EXPECT_EQ(entry->get<std::string>("writer_state"), "end-of-stream");
    EXPECT_NE(ls_line(name).find("end-of-stream"), std::string::npos);
}

TEST(CliLiveWriter, SampledFpsCountsFramesOfAPublishingWriter) {
    const std::string name = test::unique_name("cli-fps");
    ShmFileGuard guard(name);
    WriterProcess writer(name, 1, /*keep_publishing=*/true, 5ms);  // about 200 fps
    CliResult r = run_cli({"ls", "--json", "--sample", "0.3"});
    expect_exit(r, 0, "ls --sample");
    const ptree ls = parse_json(r.out);
    EXPECT_EQ(ls.get<std::string>("fps_source"), "sample");
    EXPECT_DOUBLE_EQ(ls.get<double>("sample_seconds"), 0.3);
    auto entry = ls_entry(ls, name);
    ASSERT_TRUE(entry);
    // A paced writer on a shared machine: loose bounds, but never 0 and never
    // more than the pacing allows.
    EXPECT_GT(entry->get<double>("fps"), 0.0);
    EXPECT_LT(entry->get<double>("fps"), 250.0);
    auto ring = ls_entry(ls_json(), name);
    ASSERT_TRUE(ring);
    EXPECT_GT(ring->get<double>("fps"), 0.0);
    EXPECT_LT(ring->get<double>("fps"), 250.0);
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
    EXPECT_EQ(entry->get<std::string>("state"), "stale");
    EXPECT_FALSE(entry->get<bool>("writer_alive"));
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
    ptree info = info_json(name);
    ASSERT_EQ(info.get_child("readers").size(), 1u);
    const ptree& dead = info.get_child("readers").begin()->second;
    EXPECT_EQ(dead.get<int>("pid"), reader_pid);
    EXPECT_FALSE(dead.get<bool>("alive"));
    EXPECT_EQ(dead.get<std::uint32_t>("held_slot"), reader.slot());
    auto entry = ls_entry(ls_json(), name);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->get<std::uint32_t>("readers_attached"), 0u);
    EXPECT_EQ(entry->get<std::uint32_t>("readers_dead"), 1u);
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
    EXPECT_EQ(info_json(name).get_child("readers").size(), 1u);  // dry run: unchanged

    CliResult clean = run_cli({"clean", name});
    expect_exit(clean, 0, "clean");
    EXPECT_EQ(clean.out, "reclaimed " + what + "\n" + kept);
    EXPECT_EQ(clean.err, "");

    info = info_json(name);
    EXPECT_EQ(info.get_child("readers").size(), 0u);
    for (const auto& [key, slot] : info.get_child("slots"))
        EXPECT_TRUE(slot.get_child("holders").empty()) << "slot " << slot.get<int>("index");
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
    EXPECT_EQ(entry->get<std::string>("state"), "stale");  // the writer is gone...
    EXPECT_EQ(entry->get<std::uint32_t>("readers_attached"), 1u);
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
    // The live writer stores its heartbeat every 100 ms: everything else must stay.
    auto without_heartbeat = [](std::optional<std::string> bytes) {
        if (bytes && bytes->size() >= offsetof(layout::SegmentHeader, heartbeat_ns) + 8)
            bytes->replace(offsetof(layout::SegmentHeader, heartbeat_ns), 8, 8, '\0');
        return bytes;
    };
    const auto stale_before = test::read_file(shm_path(stale));
    const auto leaky_before = without_heartbeat(test::read_file(shm_path(leaky)));

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
    EXPECT_EQ(without_heartbeat(test::read_file(shm_path(leaky))), leaky_before);
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
    EXPECT_EQ(entry->get<std::string>("state"), "corrupt");
    EXPECT_NE(entry->get<std::string>("error").find(reason), std::string::npos)
        << entry->get<std::string>("error");
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

TEST(CliCorrupt, OtherLayoutVersionIsListedWithItsReason) {
    const std::string name = test::unique_name("cli-version");
    ShmFileGuard guard(name);
    test::write_file(shm_path(name), magic_then_noise(layout::kLayoutVersion + 1));
    expect_corrupt_handling(name, "made by a newer framebus (layout version " +
                                      std::to_string(layout::kLayoutVersion + 1) + ")");
}

TEST(CliCorrupt, OlderLayoutVersionIsListedWithItsReason) {
    const std::string name = test::unique_name("cli-older");
    ShmFileGuard guard(name);
    test::write_file(shm_path(name), magic_then_noise(layout::kLayoutVersion - 1));
    expect_corrupt_handling(name, "made by an older framebus; restart its writer");
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
