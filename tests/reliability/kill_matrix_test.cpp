// The kill matrix (DESIGN.md guarantees 1-3): a real framebus-writer and
// several framebus-reader --verify processes run on one segment while this
// driver SIGKILLs one of them at a random moment, round after round, and
// restarts it. After every kill it checks what the guarantees promise:
//   - the segment left behind still validates (inspect), even when the
//     writer died half-way through a slot;
//   - the writer never dropped a frame for lack of slots (slots = readers + 2);
//   - after `framebus clean NAME`, every slot holder is a live reader;
//   - two verifying readers inside this process (latest and next mode,
//     library level) see no torn or wrong frame, across writer restarts;
// and at the end: the surviving readers' --verify summaries say mismatches=0,
// the writer's SIGTERM leaves no segment behind.
//
// Bounded by rounds and by time: FRAMEBUS_KILL_ROUNDS (default 1000),
// FRAMEBUS_KILL_SECONDS (default 120), FRAMEBUS_KILL_SEED (default: random,
// printed, so a failing run can be replayed).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "framebus/inspect.hpp"
#include "framebus/reader.hpp"
#include "framebus/stamp.hpp"
#include "reliability_support.hpp"
#include "test_support.hpp"

namespace framebus::reliability {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kMaxReaders = 6;  // 3 programs + 2 threads + 1 spare for restarts
constexpr int kReaderPrograms = 3;
constexpr auto kStartTimeout = 20s;

struct Config {
    std::uint64_t max_rounds = 1000;
    double seconds = 120;
    std::uint64_t seed = 0;
};

Config config_from_env() {
    Config c;
    if (const char* v = std::getenv("FRAMEBUS_KILL_ROUNDS")) c.max_rounds = std::stoull(v);
    if (const char* v = std::getenv("FRAMEBUS_KILL_SECONDS")) c.seconds = std::stod(v);
    if (const char* v = std::getenv("FRAMEBUS_KILL_SEED"))
        c.seed = std::stoull(v);
    else
        c.seed = std::random_device{}();
    return c;
}

struct Totals {
    std::uint64_t rounds = 0;
    std::uint64_t writer_kills = 0;
    std::uint64_t writer_kills_mid_write = 0;   // a slot was WRITING in the dead writer's segment
    std::uint64_t writer_kills_at_startup = 0;  // killed before it was publishing
    std::uint64_t reader_kills = 0;
    std::uint64_t reader_kills_holding_lease = 0;
    std::uint64_t leases_left_after_clean = 0;  // must stay 0
    std::uint64_t validations = 0;
    std::uint64_t orphaned_temporaries = 0;  // left by writers killed while building
};

// A library-level reader inside the driver: checks the stamp of every frame
// it leases, follows the stream across writer restarts.
class VerifyingReader {
  public:
    VerifyingReader(std::string name, bool in_order)
        : name_(std::move(name)), in_order_(in_order), thread_([this] { run(); }) {}
    ~VerifyingReader() { stop(); }

    void stop() {
        stop_.store(true);
        if (thread_.joinable()) thread_.join();
    }
    std::uint64_t verified() const { return verified_.load(); }
    std::uint64_t mismatches() const { return mismatches_.load(); }
    std::uint64_t follows() const { return follows_.load(); }
    std::vector<std::string> problems() const {
        std::lock_guard lock(mutex_);
        return problems_;
    }

  private:
    void problem(const std::string& what) {
        std::lock_guard lock(mutex_);
        if (problems_.size() < 10) problems_.push_back(what);
    }

    void run() {
        ReaderOptions options;
        options.wait_for_segment = 10s;
        options.follow = true;
        auto reader = Reader::open(name_, options);
        if (!reader) return problem("open: " + reader.error().message);
        const char* mode = in_order_ ? "next" : "latest";
        while (!stop_.load()) {
            switch (reader->wait(50ms)) {
                case WaitStatus::frame: {
                    auto lease = in_order_ ? reader->next() : reader->latest();
                    if (!lease) {
                        if (lease.error().code != Errc::no_frame)
                            problem(std::string(mode) + ": " + lease.error().message);
                        break;
                    }
                    const StampResult stamp = check_stamp(lease->data(), lease->format());
                    if (stamp.check == StampCheck::ok && stamp.number == lease->sequence()) {
                        verified_.fetch_add(1);
                    } else {
                        mismatches_.fetch_add(1);
                        problem(std::string(mode) + ": frame " + std::to_string(lease->sequence()) +
                                " has stamp " + std::to_string(stamp.number) + " check " +
                                std::to_string(static_cast<int>(stamp.check)));
                    }
                    break;
                }
                case WaitStatus::followed:  // the library followed the name to a new writer
                    follows_.fetch_add(1);
                    break;
                case WaitStatus::timed_out:
                case WaitStatus::writer_gone:    // the library looks for the next writer
                case WaitStatus::end_of_stream:  // likewise
                    break;
                case WaitStatus::replaced:  // never with follow
                    problem(std::string(mode) + ": replaced returned although following");
                    break;
            }
        }
    }

    std::string name_;
    bool in_order_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> verified_{0}, mismatches_{0}, follows_{0};
    mutable std::mutex mutex_;
    std::vector<std::string> problems_;
    std::thread thread_;  // last: starts after everything above exists
};

class KillMatrix : public ::testing::Test {
  protected:
    void SetUp() override {
        config_ = config_from_env();
        rng_.seed(config_.seed);
        std::printf(
            "kill matrix: seed %llu, up to %llu rounds or %.0f s (FRAMEBUS_KILL_SEED, "
            "FRAMEBUS_KILL_ROUNDS, FRAMEBUS_KILL_SECONDS)\n",
            static_cast<unsigned long long>(config_.seed),
            static_cast<unsigned long long>(config_.max_rounds), config_.seconds);
    }

    std::vector<std::string> writer_argv() const {
        return {FRAMEBUS_WRITER_BIN,
                "--name",
                name_,
                "--fps",
                "0",
                "--resize",
                "320x240",
                "--max-readers",
                std::to_string(kMaxReaders),
                "--quiet"};
    }
    std::vector<std::string> reader_argv() const {
        return {FRAMEBUS_READER_BIN, "--name",  name_,    "--headless", "--verify",
                "--no-exit-on-eos",  "--quiet", "--wait", "30"};
    }

    // A writer that has taken the name: its pid in the header, its lock held.
    std::unique_ptr<Program> start_writer() {
        const auto started = std::chrono::steady_clock::now();
        auto writer = start(writer_argv());
        const bool up = eventually(
            [&] {
                if (!running(*writer)) return true;
                auto v = inspect(name_);
                return v && v->writer_alive &&
                       v->writer_pid == static_cast<std::uint32_t>(writer->pid());
            },
            kStartTimeout);
        EXPECT_TRUE(up && running(*writer)) << "the writer did not start:\n" << describe(*writer);
        writer_startup_ = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - started);
        return writer;
    }

    // The live segment validates; returns its view.
    std::optional<SegmentView> validated(const char* when) {
        auto v = inspect(name_);
        ++totals_.validations;
        EXPECT_TRUE(v.ok()) << when
                            << ": the segment does not validate: " << (v ? "" : v.error().message);
        if (!v) return std::nullopt;
        return std::move(*v);
    }

    void kill_writer(Program& writer, bool at_startup) {
        writer.kill(SIGKILL);
        ASSERT_EQ(writer.wait(10s), -SIGKILL) << describe(writer);
        ++totals_.writer_kills;
        if (at_startup) {
            ++totals_.writer_kills_at_startup;
            // Killed while building its segment, it leaves a temporary that
            // only it knew: detectable (its writer lock is free); remove it
            // as `framebus clean` would.
            for (const std::string& t : orphaned_temporaries_of(name_)) {
                EXPECT_TRUE(remove_orphaned_temporary(t).ok()) << t;
                ++totals_.orphaned_temporaries;
            }
            return;  // it may have died before taking the name over
        }
        auto v = validated("after SIGKILL of the writer");
        if (!v) return;
        EXPECT_FALSE(v->writer_alive);
        EXPECT_EQ(v->frames_dropped, 0u) << "the writer dropped frames for lack of slots";
        for (const SlotView& s : v->slots)
            if (s.writing) ++totals_.writer_kills_mid_write;
    }

    // `in_lease`: kill it while it holds a lease. It is stopped (SIGSTOP,
    // its state frozen) until the segment shows it holding one, resumed and
    // stopped again otherwise, a few hundred times at most.
    void kill_reader(Program& reader, bool in_lease) {
        const auto pid = static_cast<std::uint32_t>(reader.pid());
        auto holds_lease = [&] {
            auto v = inspect(name_);
            if (!v) return false;
            for (const ReaderView& r : v->readers)
                if (r.pid == pid && r.held_slot >= 0) return true;
            return false;
        };
        for (int attempt = 0; in_lease && attempt < 300; ++attempt) {
            if (!stop(reader)) break;
            if (holds_lease()) break;  // SIGKILL below, while it still holds it
            reader.kill(SIGCONT);
            std::this_thread::sleep_for(std::chrono::microseconds(50 + rng_() % 500));
        }
        reader.kill(SIGKILL);
        ASSERT_EQ(reader.wait(10s), -SIGKILL) << describe(reader);
        ++totals_.reader_kills;
        if (auto before = validated("after SIGKILL of a reader")) {
            for (const ReaderView& r : before->readers)
                if (r.pid == pid && r.held_slot >= 0) ++totals_.reader_kills_holding_lease;
        }
        // On a live segment, `clean NAME` reclaims the dead readers' leases
        // and keeps the segment (exit 0, "kept segment ...").
        const test::ProgramRun clean = test::run_program({FRAMEBUS_CLI_BIN, "clean", name_}, 20s);
        ASSERT_TRUE(clean.exit_code == 0)
            << "framebus clean " << name_ << ": " << clean.out << clean.err;
        auto after = validated("after framebus clean");
        if (!after) return;
        EXPECT_TRUE(after->writer_alive) << "clean must leave a live segment alone";
        for (const SlotView& s : after->slots) {
            for (std::uint32_t bit = 0; bit < kMaxReaders; ++bit) {
                if ((s.holders & (std::uint64_t{1} << bit)) == 0) continue;
                bool alive = false;
                for (const ReaderView& r : after->readers) alive |= r.index == bit && r.alive;
                if (!alive) {
                    ++totals_.leases_left_after_clean;
                    ADD_FAILURE() << "slot " << s.index << " is still held by dead reader " << bit
                                  << " after framebus clean";
                }
            }
        }
        // Its entry is gone, or being claimed by a reader starting up (the
        // claimer holds the entry's lock before it writes its own pid).
        for (const ReaderView& r : after->readers)
            EXPECT_FALSE(r.pid == pid && !r.alive)
                << "the dead reader's entry survived framebus clean";
    }

    Config config_;
    std::mt19937_64 rng_;
    std::string name_ = test::unique_name("kill");
    SegmentGuard guard_{name_};
    Totals totals_;
    std::chrono::microseconds writer_startup_{30'000};  // how long the last start took
};

TEST_F(KillMatrix, RandomSigkillsNeverTearFramesStallTheWriterOrLeakLeases) {
    std::unique_ptr<Program> writer = start_writer();
    ASSERT_FALSE(HasFailure());
    std::vector<std::unique_ptr<Program>> readers;
    for (int i = 0; i < kReaderPrograms; ++i) readers.push_back(start(reader_argv()));
    VerifyingReader latest_reader(name_, false);
    VerifyingReader next_reader(name_, true);

    const auto began = std::chrono::steady_clock::now();
    auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    };
    std::uniform_int_distribution<int> moment_us(0, 150'000);
    std::uniform_int_distribution<int> victim(0, kReaderPrograms);  // 0: the writer

    while (totals_.rounds < config_.max_rounds && elapsed() < config_.seconds && !HasFailure()) {
        ++totals_.rounds;
        std::this_thread::sleep_for(
            std::chrono::microseconds(moment_us(rng_)));  // the random moment
        ASSERT_TRUE(running(*writer)) << "the writer exited on its own:\n" << describe(*writer);
        for (auto& r : readers)
            ASSERT_TRUE(running(*r)) << "a reader exited on its own:\n" << describe(*r);

        const int who = victim(rng_);
        if (who == 0) {
            kill_writer(*writer, false);
            // One writer restart in four is killed again while it starts up
            // (building or installing its segment), then restarted for good.
            if (rng_() % 4 == 0) {
                auto early = start(writer_argv());
                std::uniform_int_distribution<std::int64_t> startup_us(0, writer_startup_.count());
                std::this_thread::sleep_for(std::chrono::microseconds(startup_us(rng_)));
                kill_writer(*early, true);
            }
            writer = start_writer();
        } else {
            std::unique_ptr<Program>& reader = readers[static_cast<std::size_t>(who - 1)];
            kill_reader(*reader, rng_() % 2 == 0);
            reader = start(reader_argv());
        }
        validated("between rounds");
        for (const VerifyingReader* v : {&latest_reader, &next_reader})
            ASSERT_TRUE(v->problems().empty()) << v->problems().front();
    }

    // Shutdown: the readers inside first, then the writer (end of stream,
    // unlink), then the reader programs, whose summaries we read. A reader
    // restarted in the last round must be attached first (it has its signal
    // handlers then, and something to report).
    ASSERT_TRUE(eventually(
        [&] {
            auto v = inspect(name_);
            if (!v) return false;
            std::size_t attached = 0;
            for (const auto& r : readers)
                for (const ReaderView& entry : v->readers)
                    attached += entry.alive && entry.pid == static_cast<std::uint32_t>(r->pid());
            return attached == readers.size();
        },
        kStartTimeout))
        << "the reader programs did not all attach";
    latest_reader.stop();
    next_reader.stop();
    auto last = validated("at the end");
    if (last) {
        EXPECT_EQ(last->frames_dropped, 0u);
    }
    writer->kill(SIGTERM);
    ASSERT_EQ(writer->wait(10s), 0) << describe(*writer);
    // The writer's own count over its lifetime (the summary line it prints
    // at exit), besides the segment's counter checked above.
    auto writer_summary = summary_fields(writer->err(), "writer summary:");
    ASSERT_TRUE(writer_summary) << describe(*writer);
    EXPECT_EQ(field_u64(*writer_summary, "dropped"), 0u) << describe(*writer);
    EXPECT_FALSE(test::segment_exists(name_)) << "a stale segment is left after the shutdown";

    std::uint64_t program_verified = 0, program_mismatches = 0;
    for (auto& r : readers) {
        r->kill(SIGTERM);
        ASSERT_EQ(r->wait(10s), 0) << describe(*r);
        auto fields = summary_fields(r->out(), "summary:");
        ASSERT_TRUE(fields) << "no summary line:\n" << describe(*r);
        program_verified += field_u64(*fields, "verified");
        program_mismatches += field_u64(*fields, "mismatches");
        EXPECT_EQ(field_u64(*fields, "verified"), field_u64(*fields, "frames")) << describe(*r);
    }
    const auto temporaries = orphaned_temporaries_of(name_);

    const std::uint64_t library_verified = latest_reader.verified() + next_reader.verified();
    const std::uint64_t library_mismatches = latest_reader.mismatches() + next_reader.mismatches();
    std::printf(
        "kill matrix: %llu rounds in %.1f s (seed %llu)\n"
        "  kills: writer %llu (%llu mid-write, %llu during startup), reader %llu (%llu holding a "
        "lease)\n"
        "  frames verified: %llu by library readers (%llu follows), %llu by surviving reader "
        "programs\n"
        "  mismatches: %llu; leases of dead readers left after clean: %llu; validations: %llu\n"
        "  orphaned temporaries removed after startup kills: %llu, left at the end: %zu\n",
        static_cast<unsigned long long>(totals_.rounds), elapsed(),
        static_cast<unsigned long long>(config_.seed),
        static_cast<unsigned long long>(totals_.writer_kills),
        static_cast<unsigned long long>(totals_.writer_kills_mid_write),
        static_cast<unsigned long long>(totals_.writer_kills_at_startup),
        static_cast<unsigned long long>(totals_.reader_kills),
        static_cast<unsigned long long>(totals_.reader_kills_holding_lease),
        static_cast<unsigned long long>(library_verified),
        static_cast<unsigned long long>(latest_reader.follows() + next_reader.follows()),
        static_cast<unsigned long long>(program_verified),
        static_cast<unsigned long long>(library_mismatches + program_mismatches),
        static_cast<unsigned long long>(totals_.leases_left_after_clean),
        static_cast<unsigned long long>(totals_.validations),
        static_cast<unsigned long long>(totals_.orphaned_temporaries), temporaries.size());
    RecordProperty("rounds", static_cast<int>(totals_.rounds));
    RecordProperty("mismatches", static_cast<int>(library_mismatches + program_mismatches));

    EXPECT_TRUE(temporaries.empty()) << "orphaned temporaries left: " << temporaries.front();
    EXPECT_EQ(library_mismatches, 0u);
    EXPECT_EQ(program_mismatches, 0u);
    EXPECT_GT(library_verified, 0u);
    EXPECT_GE(totals_.rounds, 1u);
}

}  // namespace
}  // namespace framebus::reliability
